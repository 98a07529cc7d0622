"""Operator reviews of assistant replies: thumbs up/down and corrected answers, and what they feed.

    record_feedback(store, conversation_id, message_id, rating="down", correction="Refunds take 5 days.")
    export_reviewed(store, Path("var/review.jsonl"))        # -> `assistant finetune prepare var/review.jsonl`
    write_suggestions_yaml(store, Path("var/template-suggestions.yaml"))

A correction becomes (1) a template suggestion for the intent of the question it answers, written
in the templates.yaml schema so it can be reviewed and pasted into the templates file, and (2) a
row of the fine-tuning export. The export is OpenAI chat JSONL with a top-level "source": "review";
each row is the reviewed turn only (question + corrected or approved answer), because earlier
assistant turns in the same row would also be learned from and they were not reviewed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import DateTime, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine.errors import MessageNotFound, ReviewError  # noqa: F401 - re-exported
from assistant.engine.store import Base, Conversation, ConversationNotFound, Message, Store, new_id, utcnow

Rating = Literal["up", "down"]
MAX_CORRECTION_CHARS = 8000


class Feedback(Base):
    __tablename__ = "message_feedback"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str | None] = mapped_column(String(8), nullable=True)  # up | down
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def record_feedback(store: Store, conversation_id: str, message_id: str, rating: Rating | None,
                    correction: str | None) -> Feedback:
    """Rate and/or correct one assistant reply. A second call updates the same review; a field passed as
    None keeps its earlier value. Raises ConversationNotFound, MessageNotFound or ReviewError."""
    if rating is not None and rating not in ("up", "down"):
        raise ReviewError(f"rating must be 'up', 'down' or empty, got {rating!r}")
    if correction is not None:
        correction = correction.strip()
        if not correction:
            raise ReviewError("the corrected answer is empty")
        if len(correction) > MAX_CORRECTION_CHARS:
            raise ReviewError(f"the corrected answer is {len(correction)} characters; the limit is {MAX_CORRECTION_CHARS}")
    if rating is None and correction is None:
        raise ReviewError("give a rating (up or down) or a corrected answer")
    with store.session() as s:
        if s.get(Conversation, conversation_id) is None:
            raise ConversationNotFound(conversation_id)
        message = s.get(Message, message_id)
        if message is None or message.conversation_id != conversation_id:
            raise MessageNotFound(f"no message {message_id!r} in conversation {conversation_id!r}")
        if message.role != "assistant":
            raise ReviewError("only assistant replies can be rated or corrected")
        feedback = s.scalar(select(Feedback).where(Feedback.message_id == message_id))
        if feedback is None:
            feedback = Feedback(message_id=message_id, conversation_id=conversation_id)
            s.add(feedback)
        if rating is not None:
            feedback.rating = rating
        if correction is not None:
            feedback.correction = correction
        feedback.updated_at = utcnow()
        s.flush()
        return feedback


def feedback_for(store: Store, conversation_id: str) -> dict[str, Feedback]:
    """Reviews of one conversation's replies, by message id."""
    with store.session() as s:
        rows = s.scalars(select(Feedback).where(Feedback.conversation_id == conversation_id)).all()
        return {f.message_id: f for f in rows}


@dataclass(frozen=True)
class ReviewedTurn:
    message_id: str
    conversation_id: str
    site_id: str
    intent: str | None
    question: str
    original: str
    rating: str | None
    correction: str | None
    updated_at: datetime

    @property
    def answer(self) -> str:
        return self.correction or self.original


def reviewed_turns(store: Store) -> list[ReviewedTurn]:
    """Every reviewed reply with the customer message it answered, oldest review first."""
    with store.session() as s:
        rows = s.execute(
            select(Feedback, Message, Conversation.site_id)
            .join(Message, Message.id == Feedback.message_id)
            .join(Conversation, Conversation.id == Feedback.conversation_id)
            .order_by(Feedback.updated_at, Feedback.id)
        ).all()
        out = []
        for feedback, reply, site_id in rows:
            question = s.scalar(select(Message).where(Message.conversation_id == reply.conversation_id,
                                                      Message.seq < reply.seq, Message.role == "user")
                                .order_by(Message.seq.desc()).limit(1))
            if question is None:
                continue
            out.append(ReviewedTurn(reply.id, reply.conversation_id, site_id, question.intent or reply.intent,
                                    question.content, reply.content, feedback.rating, feedback.correction,
                                    feedback.updated_at))
        return out


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_reviewed(store: Store, path: str | Path, include_approved: bool = True) -> int:
    """Write corrected (and, by default, thumbs-up) turns as chat JSONL tagged "source": "review".

    Returns the number of rows; the file is replaced atomically (an empty review set gives an empty file)."""
    rows = []
    for turn in reviewed_turns(store):
        if turn.correction:
            kind = "correction"
        elif turn.rating == "up" and include_approved:
            kind = "approved"
        else:
            continue
        rows.append({
            "messages": [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer}],
            "source": "review",
            "metadata": {"kind": kind, "intent": turn.intent, "message_id": turn.message_id,
                         "conversation_id": turn.conversation_id, "site_id": turn.site_id},
        })
    _write_atomic(Path(path), lambda h: h.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


@dataclass(frozen=True)
class Suggestion:
    template_id: str
    intent: str
    question: str
    text: str
    message_id: str


def template_suggestions(store: Store, unassigned: str = "unassigned") -> list[Suggestion]:
    """One suggested template per corrected reply, under the intent of the question (or `unassigned`)."""
    out, counts = [], {}
    for turn in reviewed_turns(store):
        if not turn.correction:
            continue
        intent = turn.intent or unassigned
        counts[intent] = counts.get(intent, 0) + 1
        out.append(Suggestion(f"{intent}.suggested_{counts[intent]}", intent, turn.question, turn.correction,
                              turn.message_id))
    return out


def write_suggestions_yaml(store: Store, path: str | Path) -> int:
    """Write the suggestions in the templates.yaml schema (braces escaped, so they load as plain text)."""
    intents: dict[str, Any] = {}
    suggestions = template_suggestions(store)
    for sug in suggestions:
        entry = {"id": sug.template_id, "text": sug.text.replace("{", "{{").replace("}", "}}"), "sources": []}
        intents.setdefault(sug.intent, {"templates": []})["templates"].append(entry)
    header = ("# Template suggestions from operators' corrected answers (assistant console).\n"
              "# Review them, then copy the good ones into your templates file.\n")

    def write(handle: Any) -> None:
        handle.write(header)
        yaml.safe_dump({"intents": intents}, handle, allow_unicode=True, sort_keys=False, width=100)

    _write_atomic(Path(path), write)
    return len(suggestions)
