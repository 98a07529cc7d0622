"""Conversation store: SQLAlchemy models and the operations the facade and API need.

SQLite file by default; any SQLAlchemy URL works (PostgreSQL in deployment). A turn (the
customer message and the assistant reply) is written in one transaction, so a crash or a
rejected request never leaves half a turn behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

from assistant.engine.errors import ConversationNotFound, NotHandedOff


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(String(64), index=True, default="default")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active | handoff
    handoff_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.seq", cascade="all, delete-orphan"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant | agent (a person, after a handoff)
    content: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(100), nullable=True)  # an agent's display name
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    intent: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    out_of_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    sentiment: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)  # a customer message's, or "unknown"
    route: Mapped[str | None] = mapped_column(String(16), nullable=True)
    template_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)
    handoff_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")


def append_only(model: type[Base], error: type[Exception], changed: str, deleted: str) -> None:
    """Rows of `model` are written once (audit entries, template and intent versions): changing or deleting one through
    the ORM, or an update()/delete() statement on its table, raises `error` with the `changed` or `deleted` text."""

    def refuse_change(*_: Any) -> None:
        raise error(changed)

    def refuse_delete(*_: Any) -> None:
        raise error(deleted)

    def refuse_statement(state: ORMExecuteState) -> None:
        # update(model)/delete(model) statements skip the mapper events above
        if (state.is_update or state.is_delete) and any(m.class_ is model for m in state.all_mappers):
            raise error(changed if state.is_update else deleted)

    event.listen(model, "before_update", refuse_change)
    event.listen(model, "before_delete", refuse_delete)
    event.listen(Session, "do_orm_execute", refuse_statement)


# How long a SQLite connection waits for another's lock. A replica starting while another migrates waits
# for the whole migration, which took over 5 s on a loaded 2-core CI machine ("database is locked").
SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the console read while the server writes; foreign keys make deletes cascade.
    # The busy timeout goes first: switching to WAL itself waits for a migrating replica's lock.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Thread-safe: each operation opens its own short session."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            from assistant.engine.migrations import ensure_schema  # imports this module's models

            ensure_schema(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # -- conversations ----------------------------------------------------------------------
    def get_conversation(self, conversation_id: str, site_id: str | None = None) -> Conversation:
        with self.session() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None or (site_id is not None and conv.site_id != site_id):
                raise ConversationNotFound(conversation_id)
            conv.messages  # noqa: B018 - load while the session is open
            return conv

    def exists(self, conversation_id: str, site_id: str | None = None) -> bool:
        try:
            self.get_conversation(conversation_id, site_id)
        except ConversationNotFound:
            return False
        return True

    def history(self, conversation_id: str, limit: int = 20) -> list[Message]:
        with self.session() as s:
            rows = s.scalars(
                select(Message).where(Message.conversation_id == conversation_id)
                .order_by(Message.seq.desc()).limit(limit)
            ).all()
            return list(reversed(rows))

    def add_turn(self, conversation_id: str | None, site_id: str, user: dict[str, Any],
                 assistant: dict[str, Any], *, handoff_reason: str | None = None) -> tuple[str, str]:
        """Persist one turn atomically; creates the conversation when `conversation_id` is new.

        Returns (conversation_id, assistant message id).
        """
        attempts = 3
        while True:
            attempts -= 1
            try:
                return self._append_turn(conversation_id, site_id, user, assistant, handoff_reason)
            except IntegrityError:
                # Another writer created this conversation id at the same moment; the transaction
                # rolled back whole, so re-read and append after its turn.
                if attempts == 0:
                    raise

    def _append_turn(self, conversation_id: str | None, site_id: str, user: dict[str, Any],
                     assistant: dict[str, Any], handoff_reason: str | None) -> tuple[str, str]:
        with self.session() as s:
            now = utcnow()
            if conversation_id:
                # Write first: it takes the lock (PostgreSQL: this row; SQLite: the database), so a second
                # writer - another thread or replica - waits and then reads the new last seq below.
                s.execute(update(Conversation).where(Conversation.id == conversation_id).values(updated_at=now))
            conv = s.get(Conversation, conversation_id) if conversation_id else None
            if conv is None:
                conv = Conversation(id=conversation_id or new_id(), site_id=site_id)
                s.add(conv)
                s.flush()
            last = s.scalar(select(func.max(Message.seq)).where(Message.conversation_id == conv.id)) or 0
            s.add(Message(conversation_id=conv.id, seq=last + 1, role="user", created_at=now, **user))
            reply = Message(conversation_id=conv.id, seq=last + 2, role="assistant", created_at=now, **assistant)
            s.add(reply)
            conv.updated_at = now
            if handoff_reason:
                conv.status, conv.handoff_reason, conv.handoff_at = "handoff", handoff_reason, now
            s.flush()
            return conv.id, reply.id

    def add_agent_message(self, conversation_id: str, site_id: str, author: str, content: str) -> Message:
        """Append a person's message to a handed-off conversation of `site_id`, in one transaction.

        ConversationNotFound (not this site's), NotHandedOff (the assistant has it): nothing is written then."""
        with self.session() as s:
            now = utcnow()
            # Write first, as _append_turn does: it takes the lock, so a customer turn appended at the same
            # moment waits and then numbers its messages after this one.
            s.execute(update(Conversation).where(Conversation.id == conversation_id,
                                                 Conversation.site_id == site_id).values(updated_at=now))
            conv = s.get(Conversation, conversation_id)
            if conv is None or conv.site_id != site_id:
                raise ConversationNotFound(conversation_id)
            if conv.status != "handoff":
                raise NotHandedOff(conversation_id)  # the rollback undoes the updated_at write too
            last = s.scalar(select(func.max(Message.seq)).where(Message.conversation_id == conv.id)) or 0
            message = Message(conversation_id=conv.id, seq=last + 1, role="agent", author=author, content=content,
                              created_at=now)
            s.add(message)
            s.flush()
            return message

    def messages_after(self, conversation_id: str, after_seq: int, limit: int = 100) -> list[Message]:
        """The conversation's messages numbered above `after_seq`, oldest first."""
        with self.session() as s:
            return list(s.scalars(
                select(Message).where(Message.conversation_id == conversation_id, Message.seq > after_seq)
                .order_by(Message.seq).limit(limit)
            ).all())

    def set_status(self, conversation_id: str, status: str, reason: str | None = None) -> None:
        with self.session() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None:
                raise ConversationNotFound(conversation_id)
            conv.status, conv.handoff_reason = status, reason
            conv.handoff_at = utcnow() if status == "handoff" else conv.handoff_at

    def delete_conversation(self, conversation_id: str, site_id: str | None = None) -> None:
        with self.session() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None or (site_id is not None and conv.site_id != site_id):
                raise ConversationNotFound(conversation_id)
            s.delete(conv)

    def list_conversations(self, site_id: str | None = None, status: str | None = None,
                           limit: int = 50, offset: int = 0) -> Sequence[Conversation]:
        with self.session() as s:
            q = select(Conversation).order_by(Conversation.updated_at.desc())
            if site_id is not None:
                q = q.where(Conversation.site_id == site_id)
            if status is not None:
                q = q.where(Conversation.status == status)
            return s.scalars(q.limit(limit).offset(offset)).all()
