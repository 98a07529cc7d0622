"""Operator intent examples: queued customer messages assigned to an intent, and retraining on them.

    assign_intent(store, message_id, "gift_wrapping", operator_examples_path(settings))
    report = assistant.retrain_intents()     # retrain_intents(settings, understanding): swaps the new model in

An assignment is recorded in the store (so the message leaves the review queue) and appended to a
CSV of operator examples in data_dir (text,intent); the console passes no CSV and adds the message to its
own site's examples instead, as a version (intent_versions.py, which also retrains each site). Retraining merges that CSV with the base
intent data (understanding.intent_data, or the bundled samples), refuses when any intent has fewer
than MIN_EXAMPLES_PER_INTENT examples, trains with the understanding module's own trainer,
saves the model where the server loads it from, and swaps it into the running Understanding.
"""

from __future__ import annotations

import csv
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine.errors import RetrainRefused  # noqa: F401 - re-exported
from assistant.engine.reviews import MessageNotFound, ReviewError
from assistant.engine.store import Base, Message, Store, utcnow
from assistant.engine.understanding.dataset import DataError, LabelledData, load_labelled_csv

INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
# Retraining is refused while an intent has fewer examples: the bundled sample intents have 26-60 each, and a
# handful of messages does not teach an intent apart from its neighbours
MIN_EXAMPLES_PER_INTENT = 5
SAMPLE_INTENTS = Path(__file__).resolve().parent.parent / "samples" / "intents.csv"
retrain_lock = threading.Lock()  # one retrain at a time, of any site (intent_versions.py too)


class IntentAssignment(Base):
    __tablename__ = "intent_assignments"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    intent: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def operator_examples_path(settings: Any) -> Path:
    return Path(settings.data_dir) / "operator_intents.csv"


def base_intents_path(settings: Any) -> Path:
    return Path(settings.understanding.intent_data or SAMPLE_INTENTS)


def assign_intent(store: Store, message_id: str, intent: str, examples_csv: Path | None) -> IntentAssignment:
    """Label one customer message with `intent` (new or existing); the message becomes a training example in
    `examples_csv`, or (None) leaves the queue only: the console adds it to its site's examples as a version."""
    intent = (intent or "").strip()
    if not INTENT_NAME.match(intent):
        raise ReviewError(f"intent name {intent!r} must be 2-64 characters: lower-case letters, digits and _, "
                          "starting with a letter (like gift_wrapping)")
    with store.session() as s:
        message = s.get(Message, message_id)
        if message is None:
            raise MessageNotFound(f"no message {message_id!r}")
        if message.role != "user":
            raise ReviewError("only customer messages can be assigned to an intent")
        earlier = s.get(IntentAssignment, message_id)
        if earlier is not None:
            raise ReviewError(f"this message is already assigned to {earlier.intent!r}")
        assignment = IntentAssignment(message_id=message_id, intent=intent, text=message.content)
        s.add(assignment)
        s.flush()
        if examples_csv is not None:
            # Written inside the transaction: if the file cannot be written, the assignment rolls back too.
            _append_example(examples_csv, message.content, intent)
        return assignment


def _append_example(path: Path, text: str, intent: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["text", "intent"])
        writer.writerow([text.replace("\n", " ").strip(), intent])


def assigned_message_ids(store: Store) -> set[str]:
    with store.session() as s:
        return set(s.scalars(select(IntentAssignment.message_id)).all())


def recent_assignments(store: Store, limit: int = 50) -> list[IntentAssignment]:
    with store.session() as s:
        return list(s.scalars(select(IntentAssignment).order_by(IntentAssignment.created_at.desc()).limit(limit)))


def merged_examples(base_csv: Path, operator_csv: Path) -> LabelledData:
    """Base intent data plus the operator's examples (duplicates of a base row are dropped)."""
    base = load_labelled_csv(base_csv)
    if not operator_csv.exists():
        return base
    extra = _read_operator_rows(operator_csv)
    seen = {(t.casefold(), label) for t, label in zip(base.texts, base.labels, strict=True)}
    texts, labels = list(base.texts), list(base.labels)
    for text, label in extra:
        if (text.casefold(), label) not in seen:
            seen.add((text.casefold(), label))
            texts.append(text)
            labels.append(label)
    return LabelledData(texts, labels, f"{base_csv} + {operator_csv}")


def _read_operator_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [(r[0].strip(), r[1].strip()) for r in rows if len(r) >= 2 and r[0].strip() and r[1].strip()]


def check_examples(data: LabelledData, minimum: int) -> None:
    """Refuse (RetrainRefused) when any intent has fewer than `minimum` examples, naming each one."""
    short = sorted((n, label) for label, n in Counter(data.labels).items() if n < minimum)
    if short:
        listed = ", ".join(f"{label!r} has {n}" for n, label in short)
        raise RetrainRefused(
            f"Not retrained: every intent needs at least {minimum} examples, and {listed}. "
            f"Assign more queued messages to {'it' if len(short) == 1 else 'them'} first."
        )


@dataclass(frozen=True)
class RetrainReport:
    examples: int
    operator_examples: int
    intents: int
    seconds: float
    model_dir: str


def retrain_intents(settings: Any, understanding: Any, *, progress: bool = False,
                    data: LabelledData | None = None) -> RetrainReport:
    """Train on base + operator examples (or `data`: the default site's versioned examples, intent_versions.py),
    save where the server loads from, swap into `understanding`."""
    from assistant.engine.understanding.understanding import train_intent_model

    if not retrain_lock.acquire(blocking=False):
        raise ReviewError("a retrain is already running; wait for it to finish")
    try:
        started = time.perf_counter()
        operator_csv = operator_examples_path(settings)
        try:
            data = data if data is not None else merged_examples(base_intents_path(settings), operator_csv)
        except DataError as exc:
            raise RetrainRefused(f"Not retrained: {exc}") from exc
        check_examples(data, MIN_EXAMPLES_PER_INTENT)
        merged = Path(settings.data_dir) / "intent-training.csv"
        with merged.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "intent"])
            writer.writerows(zip(data.texts, data.labels, strict=True))
        model = train_intent_model(understanding.encoder, merged, progress)
        model_dir = Path(settings.understanding.intent_model_dir or Path(settings.data_dir) / "intent-model")
        model.save(model_dir)
        understanding.intents = model  # one attribute swap, no restart; turns already classifying finish on the old one
        operator = len(_read_operator_rows(operator_csv)) if operator_csv.exists() else 0
        return RetrainReport(len(data), operator, len(set(data.labels)), round(time.perf_counter() - started, 1),
                             str(model_dir))
    finally:
        retrain_lock.release()
