"""`prepare`: drops and counts empty/overlong/duplicate turns, redacts with a report, splits deterministically,
renders with the serving prompt builder, and never leaves half-written output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.engine.prompt import PromptBuilder, Turn
from assistant.engine.settings import Settings
from finetune.errors import FinetuneError
from finetune.prepare import PrepareOptions, main, prepare


def _conv(q: str, a: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})


@pytest.fixture()
def inputs(tmp_path: Path) -> list[str]:
    chat = tmp_path / "chat.jsonl"
    lines = [_conv(f"Question number {i} about returns?", f"Answer {i}: you have 30 days.") for i in range(20)]
    lines += [
        _conv("Question number 3 about returns?", "Answer 3: you have 30 days."),  # duplicate
        _conv("  QUESTION number 3 about   returns? ", "answer 3: you have 30 days."),  # duplicate up to case/space
        _conv("   ", "An answer to nothing."),  # empty question
        _conv("Long one?", "x" * 3000),  # overlong answer
        _conv("Mail me at jo.smith@example.org or call 06 1234 5678", "Done, we e-mailed you."),
        json.dumps({"messages": [
            {"role": "user", "content": "Can I exchange boots?"},
            {"role": "assistant", "content": "Yes, within 30 days."},
            {"role": "user", "content": "For free?"},
            {"role": "assistant", "content": "Exchanges are free within the EU."}]}),
    ]
    chat.write_text("\n".join(lines) + "\n")
    qa = tmp_path / "qa.csv"
    qa.write_text("question,answer\nDo you ship to Norway?,Yes: 3-6 business days.\n")
    return [str(chat), str(qa)]


def test_counts_redaction_and_rendering(tmp_path: Path, inputs: list[str]) -> None:
    out = tmp_path / "data"
    settings = Settings()
    report = prepare(PrepareOptions(inputs=inputs, output_dir=str(out), val_fraction=0.2), settings)
    c = report["counts"]
    assert (c["read"], c["dropped_empty"], c["dropped_overlong"], c["dropped_duplicate"]) == (28, 1, 1, 2)
    assert c["kept"] == 24 and c["train"] + c["val"] == 24 and c["val"] >= 4
    assert report["redaction"]["by_kind"] == {"email": 1, "phone": 1}
    rows = [json.loads(line) for name in ("train", "val") for line in (out / f"{name}.jsonl").open()]
    assert len(rows) == 24
    text = (out / "report.md").read_text() + (out / "report.json").read_text()
    joined = json.dumps(rows)
    for secret in ("jo.smith@example.org", "06 1234 5678"):
        assert secret not in text and secret not in joined  # neither in the data nor in the report
    assert "Mail me at [EMAIL] or call [PHONE]" in joined

    # Rendering is exactly what serving builds: same builder, question, history, then the reply.
    builder = PromptBuilder(settings.system_prompt, settings.company)
    follow_up = next(r for r in rows if r["question"] == "For free?")
    expected = builder.build("For free?", (), [Turn("user", "Can I exchange boots?"),
                                              Turn("assistant", "Yes, within 30 days.")])
    assert follow_up["messages"] == [*expected, {"role": "assistant", "content": "Exchanges are free within the EU."}]


def test_split_is_deterministic_and_keeps_conversations_together(tmp_path: Path, inputs: list[str]) -> None:
    a = prepare(PrepareOptions(inputs=inputs, output_dir=str(tmp_path / "a"), seed=5))
    b = prepare(PrepareOptions(inputs=list(reversed(inputs)), output_dir=str(tmp_path / "b"), seed=5))
    prepare(PrepareOptions(inputs=inputs, output_dir=str(tmp_path / "c"), seed=6))

    def questions(folder: str, split: str) -> set[str]:
        return {json.loads(line)["question"] for line in (tmp_path / folder / f"{split}.jsonl").open()}

    assert questions("a", "val") == questions("b", "val")  # content-addressed: file order does not matter
    assert questions("a", "val") != questions("c", "val")  # ...but the seed does
    assert a["data_hash"] == prepare(PrepareOptions(inputs=inputs, output_dir=str(tmp_path / "a"), seed=5))["data_hash"]
    for folder in ("a", "c"):  # both turns of the exchange conversation are on the same side
        in_val = {"Can I exchange boots?", "For free?"} & questions(folder, "val")
        assert len(in_val) in (0, 2)
    assert b["counts"] == a["counts"]


def test_empty_dataset_is_refused_and_previous_output_survives(tmp_path: Path, inputs: list[str]) -> None:
    out = tmp_path / "data"
    prepare(PrepareOptions(inputs=inputs, output_dir=str(out)))
    before = (out / "train.jsonl").read_text()
    empty = tmp_path / "empty.csv"
    empty.write_text("question,answer\n ,\n")
    with pytest.raises(FinetuneError, match="no usable examples"):
        prepare(PrepareOptions(inputs=[str(empty)], output_dir=str(out)))
    assert (out / "train.jsonl").read_text() == before


def test_command_line_reports_bad_input_with_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_conv("q", "a") + "\n" + json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert main(["--inputs", str(bad), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl, line 2" in err and "no assistant turn" in err
    assert not (tmp_path / "out").exists()
