"""Operator reviews on a real SQLite store: feedback rules, template suggestions, fine-tuning export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.engine.reviews import (
    MessageNotFound,
    ReviewError,
    export_reviewed,
    feedback_for,
    record_feedback,
    template_suggestions,
    write_suggestions_yaml,
)
from assistant.engine.store import ConversationNotFound, Store
from assistant.engine.understanding.templates import TemplateBook
from tests.console_seed import Turn, seed_conversation
from tests.deploy.databases import DATABASES, database_url

START = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same tests on a SQLite file and on a fresh PostgreSQL database (when one is configured)."""
    with database_url(request.param, tmp_path) as url:
        s = Store(url)
        yield s
        s.close()


@pytest.fixture
def conv(store: Store) -> tuple[str, list[str], list[str]]:
    return seed_conversation(store, START, [
        Turn("how long do refunds take", intent="refund_status", answer="Refunds take 30 days."),
        Turn("and for gift cards?", intent="refund_status", answer="Gift cards are refunded as cash.", minutes=1),
    ])


def test_rating_then_correction_update_one_review(store: Store, conv: tuple[str, list[str], list[str]]) -> None:
    conv_id, _, bots = conv
    record_feedback(store, conv_id, bots[0], "down", None)
    record_feedback(store, conv_id, bots[0], None, "  Refunds reach your account within 5-7 business days.  ")
    reviews = feedback_for(store, conv_id)
    assert list(reviews) == [bots[0]]
    assert reviews[bots[0]].rating == "down"  # kept: None means "leave as it was"
    assert reviews[bots[0]].correction == "Refunds reach your account within 5-7 business days."
    record_feedback(store, conv_id, bots[0], "up", None)
    assert feedback_for(store, conv_id)[bots[0]].rating == "up"


@pytest.mark.parametrize(("rating", "correction", "message"), [
    (None, None, "give a rating"),
    ("meh", None, "rating must be"),
    (None, "   ", "corrected answer is empty"),
    (None, "x" * 8001, "limit is 8000"),
])
def test_bad_reviews_are_refused_and_nothing_is_stored(store: Store, conv: tuple[str, list[str], list[str]],
                                                       rating: str | None, correction: str | None,
                                                       message: str) -> None:
    conv_id, _, bots = conv
    with pytest.raises(ReviewError, match=message):
        record_feedback(store, conv_id, bots[0], rating, correction)  # type: ignore[arg-type]
    assert feedback_for(store, conv_id) == {}


def test_reviews_must_target_an_assistant_reply_of_that_conversation(
        store: Store, conv: tuple[str, list[str], list[str]]) -> None:
    conv_id, users, bots = conv
    other, _, other_bots = seed_conversation(store, START, [Turn("hi")])
    with pytest.raises(ConversationNotFound):
        record_feedback(store, "missing", bots[0], "up", None)
    with pytest.raises(MessageNotFound):
        record_feedback(store, conv_id, "missing", "up", None)
    with pytest.raises(MessageNotFound):
        record_feedback(store, conv_id, other_bots[0], "up", None)
    with pytest.raises(ReviewError, match="only assistant replies"):
        record_feedback(store, conv_id, users[0], "up", None)
    assert feedback_for(store, conv_id) == {} and feedback_for(store, other) == {}


def test_corrections_and_approvals_reach_the_finetune_export(store: Store, conv: tuple[str, list[str], list[str]],
                                                            tmp_path: Path) -> None:
    from finetune.prepare import PrepareOptions, prepare
    from finetune.readers import read_jsonl

    conv_id, _, bots = conv
    record_feedback(store, conv_id, bots[0], "down", "Refunds take 5-7 business days.")
    record_feedback(store, conv_id, bots[1], "up", None)
    _, _, thumbs_down = seed_conversation(store, START, [Turn("bad one", answer="nonsense")])
    record_feedback(store, _conv_of(store, thumbs_down[0]), thumbs_down[0], "down", None)

    path = tmp_path / "out" / "review.jsonl"
    assert export_reviewed(store, path) == 2
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["source"] for r in rows} == {"review"}
    by_kind = {r["metadata"]["kind"]: r for r in rows}
    assert by_kind["correction"]["messages"] == [
        {"role": "user", "content": "how long do refunds take"},
        {"role": "assistant", "content": "Refunds take 5-7 business days."},
    ]
    assert by_kind["approved"]["messages"][1]["content"] == "Gift cards are refunded as cash."
    # The fine-tuning reader takes it as is and keeps the source tag.
    examples = read_jsonl(path)
    assert [(e.question, e.answer, e.source) for e in examples] == [
        ("how long do refunds take", "Refunds take 5-7 business days.", "review"),
        ("and for gift cards?", "Gift cards are refunded as cash.", "review"),
    ]
    # ... and `assistant finetune prepare` turns it into training data, counted as reviews.
    report = prepare(PrepareOptions(inputs=[str(path)], output_dir=str(tmp_path / "ft")))
    assert report["sources"] == {"review": 2} and report["counts"]["kept"] == 2
    assert export_reviewed(store, path, include_approved=False) == 1


def _conv_of(store: Store, message_id: str) -> str:
    from assistant.engine.store import Message

    with store.session() as s:
        return s.get(Message, message_id).conversation_id


def test_empty_export_is_an_empty_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "review.jsonl"
    assert export_reviewed(store, path) == 0 and path.read_text() == ""


def test_corrections_become_loadable_template_suggestions(store: Store, conv: tuple[str, list[str], list[str]],
                                                         tmp_path: Path) -> None:
    conv_id, _, bots = conv
    record_feedback(store, conv_id, bots[0], None, "Refunds take 5-7 business days {after we receive it}.")
    _, _, oos = seed_conversation(store, START, [Turn("do you gift wrap", intent=None, answer="I don't know.")])
    record_feedback(store, _conv_of(store, oos[0]), oos[0], "down", "Yes, gift wrapping costs 3 euros.")
    record_feedback(store, conv_id, bots[1], "up", None)  # a rating alone suggests nothing

    suggestions = template_suggestions(store)
    assert [(s.intent, s.template_id, s.question) for s in suggestions] == [
        ("refund_status", "refund_status.suggested_1", "how long do refunds take"),
        ("unassigned", "unassigned.suggested_1", "do you gift wrap"),
    ]
    path = tmp_path / "suggestions.yaml"
    assert write_suggestions_yaml(store, path) == 2
    book = TemplateBook.load(path)  # the real templates parser accepts it
    assert book.intents == ["refund_status", "unassigned"]
    rendered = book.select("refund_status", "how long do refunds take")
    assert rendered is not None and rendered.text == "Refunds take 5-7 business days {after we receive it}."


def test_deleting_a_conversation_deletes_its_reviews(store: Store, conv: tuple[str, list[str], list[str]]) -> None:
    conv_id, _, bots = conv
    record_feedback(store, conv_id, bots[0], "up", None)
    store.delete_conversation(conv_id)
    assert feedback_for(store, conv_id) == {}
