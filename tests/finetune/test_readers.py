"""Input readers: OpenAI chat JSONL, question/answer CSV and the review export; bad input names its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune.errors import DataError, FinetuneError
from finetune.readers import read_csv, read_inputs, read_jsonl


def _jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def test_multi_turn_conversation_gives_one_example_per_reply(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "chat.jsonl", [{"messages": [
        {"role": "system", "content": "old rules"},
        {"role": "user", "content": "Hi, where is my parcel?"},
        {"role": "assistant", "content": "Which order number?"},
        {"role": "user", "content": "NW-12345"},
        {"role": "assistant", "content": "It ships today."},
    ]}])
    first, second = read_jsonl(path)
    assert (first.question, first.answer, first.history) == ("Hi, where is my parcel?", "Which order number?", ())
    assert second.question == "NW-12345" and second.answer == "It ships today."
    assert [(t.role, t.content) for t in second.history] == [("user", "Hi, where is my parcel?"),
                                                            ("assistant", "Which order number?")]
    assert first.group == second.group  # one conversation never straddles the split


def test_review_export_keeps_its_source_and_text_parts(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "review.jsonl", [{"source": "review", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Refund "}, {"type": "text", "text": "time?"}]},
        {"role": "assistant", "content": "5-10 business days."}]}])
    (example,) = read_jsonl(path)
    assert example.source == "review" and example.question == "Refund time?"


@pytest.mark.parametrize(("line", "problem"), [
    ({"conversation": []}, "no 'messages'"),
    ({"messages": [{"role": "user", "content": "hello?"}]}, "no assistant turn"),
    ("{not json", "not valid JSON"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "role must be one of"),
    ({"messages": []}, "non-empty list"),
    ({"messages": [{"role": "user"}]}, "has no 'content'"),
])
def test_bad_jsonl_line_is_reported_with_its_number(tmp_path: Path, line: object, problem: str) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path = _jsonl(tmp_path / "bad.jsonl", [good, "", line])
    with pytest.raises(DataError) as info:
        read_jsonl(path)
    assert info.value.line == 3 and problem in str(info.value) and "bad.jsonl, line 3" in str(info.value)


def test_csv_reads_question_answer_pairs_with_quoted_commas(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('question,answer\n"Do you ship to Norway, too?","Yes, in 3-6 business days."\n\n')
    (example,) = read_csv(path)
    assert (example.question, example.answer, example.source) == ("Do you ship to Norway, too?",
                                                                   "Yes, in 3-6 business days.", "csv")


def test_csv_with_wrong_columns_is_refused_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "intents.csv"
    path.write_text("text,category\nmy card is lost,lost_card\n")
    with pytest.raises(DataError) as info:
        read_csv(path)
    assert info.value.line == 1 and "question,answer" in str(info.value)


def test_csv_row_with_wrong_field_count_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nok?,yes\nHow much is shipping, really?,€3.95,extra\n")
    with pytest.raises(DataError) as info:
        read_csv(path)
    assert info.value.line == 3 and "expected 2 columns" in str(info.value)


def test_unknown_extension_and_missing_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("q a")
    with pytest.raises(FinetuneError, match="unsupported input type"):
        read_inputs([tmp_path / "data.txt"])
    with pytest.raises(FinetuneError, match="not found"):
        read_inputs([tmp_path / "missing.jsonl"])
