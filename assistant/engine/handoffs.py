"""Handoff acknowledgements: which agent took a handed-off conversation, and when.

The conversation's own status says whether a person has it ("handoff") or the assistant does
("active"); an acknowledgement records that an agent picked it up, so it is not left waiting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine.store import Base, Store, utcnow


class HandoffAck(Base):
    __tablename__ = "handoff_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    agent: Mapped[str] = mapped_column(String(100), default="")
    acknowledged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def install(store: Store) -> None:
    Base.metadata.create_all(store.engine, tables=[HandoffAck.__table__])


def acknowledge(store: Store, conversation_id: str, agent: str = "") -> HandoffAck:
    install(store)
    ack = HandoffAck(conversation_id=conversation_id, agent=agent[:100], acknowledged_at=utcnow())
    with store.session() as s:
        s.add(ack)
    return ack


def acknowledged_at(store: Store, conversation_id: str, since: datetime | None = None) -> datetime | None:
    """When the current handoff (the one that started at `since`) was last acknowledged, if it was."""
    install(store)
    with store.session() as s:
        q = select(HandoffAck.acknowledged_at).where(HandoffAck.conversation_id == conversation_id)
        last = s.scalar(q.order_by(HandoffAck.acknowledged_at.desc()).limit(1))
    if last is None or since is None:
        return last
    # SQLite returns naive datetimes; compare on the same footing.
    return last if last.replace(tzinfo=None) >= since.replace(tzinfo=None) else None
