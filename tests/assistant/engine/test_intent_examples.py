"""Assigning queued messages to intents and retraining on them: real store, real CSV, real intent model."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.engine import analytics as an
from assistant.engine.intent_examples import (
    RetrainRefused,
    assign_intent,
    assigned_message_ids,
    merged_examples,
    operator_examples_path,
    retrain_intents,
)
from assistant.engine.reviews import MessageNotFound, ReviewError
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding import classifier
from assistant.engine.understanding.understanding import SAMPLE_INTENTS
from tests.console_seed import DEMO_OOS_TEXTS, Turn, seed_conversation
from tests.load.servers import cache_dir

START = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(classifier, "FINETUNE_EPOCHS", 0)  # a frozen encoder trains in seconds
    return Settings(data_dir=tmp_path / "var")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings.resolved_database_url)
    yield s
    s.close()


def _queue(store: Store) -> list[str]:
    _, users, _ = seed_conversation(store, START, [
        Turn(text, intent=None, confidence=0.2, minutes=i) for i, text in enumerate(DEMO_OOS_TEXTS)
    ])
    return users


def test_assignment_adds_a_training_row_and_leaves_the_queue(store: Store, settings: Settings) -> None:
    users = _queue(store)
    path = operator_examples_path(settings)
    assign_intent(store, users[0], "gift_wrapping", path)
    assign_intent(store, users[1], " gift_wrapping ", path)
    assert list(csv.reader(path.open())) == [["text", "intent"], [DEMO_OOS_TEXTS[0], "gift_wrapping"],
                                             [DEMO_OOS_TEXTS[1], "gift_wrapping"]]
    queue = an.review_queue(an.load_frame(store), 0.5, exclude=assigned_message_ids(store))
    assert sorted(queue["text"]) == sorted(DEMO_OOS_TEXTS[2:])
    merged = merged_examples(Path("assistant/samples/intents.csv"), path)
    assert merged.label_counts["gift_wrapping"] == 2 and merged.label_counts["track_order"] == 29


@pytest.mark.parametrize("name", ["", "Gift Wrapping", "x", "1st", "gift-wrap"])
def test_bad_intent_names_are_refused(store: Store, settings: Settings, name: str) -> None:
    users = _queue(store)
    with pytest.raises(ReviewError, match="intent name"):
        assign_intent(store, users[0], name, operator_examples_path(settings))
    assert not operator_examples_path(settings).exists() and assigned_message_ids(store) == set()


def test_assignment_errors_store_nothing(store: Store, settings: Settings, tmp_path: Path) -> None:
    users = _queue(store)
    path = operator_examples_path(settings)
    assign_intent(store, users[0], "gift_wrapping", path)
    with pytest.raises(ReviewError, match="already assigned to 'gift_wrapping'"):
        assign_intent(store, users[0], "track_order", path)
    with pytest.raises(MessageNotFound):
        assign_intent(store, "missing", "track_order", path)
    _, _, bots = seed_conversation(store, START, [Turn("hi")])
    with pytest.raises(ReviewError, match="only customer messages"):
        assign_intent(store, bots[0], "greeting", path)
    unwritable = tmp_path / "a-folder.csv"
    unwritable.mkdir()
    with pytest.raises(IsADirectoryError):
        assign_intent(store, users[1], "gift_wrapping", unwritable)
    assert assigned_message_ids(store) == {users[0]}  # the failed write rolled the assignment back
    assert len(list(csv.reader(path.open()))) == 2


def test_retrain_with_too_few_examples_is_refused_with_the_reason(store: Store, settings: Settings) -> None:
    users = _queue(store)
    for message_id in users[:2]:
        assign_intent(store, message_id, "gift_wrapping", operator_examples_path(settings))
    with pytest.raises(RetrainRefused) as refused:
        retrain_intents(settings, understanding=None)
    text = str(refused.value)
    assert "'gift_wrapping' has 2" in text and "at least 5" in text and "Assign more" in text
    assert not (settings.data_dir / "intent-model").exists()


@pytest.mark.slow
def test_assigned_oos_messages_change_the_prediction_after_retraining(store: Store, settings: Settings) -> None:
    from assistant.engine.understanding import Understanding

    shared = cache_dir() / "test-intent-model"  # trained once for the server tests; copied, as we retrain
    if (shared / "meta.json").exists():
        shutil.copytree(shared, settings.data_dir / "intent-model")
    understanding = Understanding.from_settings(settings, progress=False)
    before = {text: understanding.classify(text).intent for text in DEMO_OOS_TEXTS}
    assert "gift_wrapping" not in before.values()
    for message_id in _queue(store):
        assign_intent(store, message_id, "gift_wrapping", operator_examples_path(settings))
    report = retrain_intents(settings, understanding)
    with SAMPLE_INTENTS.open(newline="", encoding="utf-8") as f:
        sample_labels = {row[1] for row in list(csv.reader(f))[1:]}
    assert report.operator_examples == 5 and report.intents == len(sample_labels) + 1  # + gift_wrapping
    after = {text: understanding.classify(text) for text in DEMO_OOS_TEXTS}
    assert all(c.intent == "gift_wrapping" for c in after.values()), after
    # Saved where the server loads it from: a fresh start predicts the same.
    reloaded = Understanding.from_settings(settings, progress=False)
    assert reloaded.classify(DEMO_OOS_TEXTS[1]).intent == "gift_wrapping"
