"""The agent queue: handed-off conversations as a site's agents work them (`Assistant.handoffs`).

    queue = assistant.handoffs
    queue.items("acme", view="waiting")                   # longest waiting first, with the waiting time
    queue.claim(conv_id, "acme", "maria")                 # AlreadyClaimed if another agent has it
    queue.reply(conv_id, "acme", "Maria", "Your parcel left today.")   # stored in the transcript, role agent
    queue.note(conv_id, "acme", "maria", "Customer is a reseller")     # internal: never shown to the customer
    queue.close(conv_id, "acme", "maria")                 # or queue.hand_back(...): the assistant answers again

A conversation with status "handoff" is waiting until an agent claims it (or replies: a reply claims an unclaimed
conversation for its author). Close and hand back both end the handoff (the conversation's status goes back to
"active", so the assistant answers if the customer writes again); close records that the matter is done, hand
back that the assistant should carry on. One `handoff_queue` row follows each handoff from claim to end.

Every action is written to the audit log in the same transaction as the change, then announced to the site's
webhook (webhooks.py) off the request path. Errors: ConversationNotFound (not this site's), NotHandedOff (no
person has it), AlreadyClaimed, InvalidMessage (empty or over-long text or name); nothing is written on any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from assistant.engine import audit, handoffs
from assistant.engine.conversations import MAX_AUTHOR_CHARS, MAX_MESSAGE_CHARS, Conversations
from assistant.engine.errors import ConversationNotFound, InvalidMessage, NotHandedOff
from assistant.engine.store import Base, Conversation, Message, Store, utcnow
from assistant.engine.webhooks import WebhookSender

View = Literal["waiting", "claimed", "mine", "closed"]
VIEWS = ("waiting", "claimed", "mine", "closed")
MAX_NOTE_CHARS = 4000


class AlreadyClaimed(NotHandedOff):
    """Another agent has claimed this conversation (a 409 like NotHandedOff: the request clashes with its state)."""


class QueueItem(Base):
    __tablename__ = "handoff_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    handoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    closed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # closed | hand_back


class AgentNote(Base):
    """An agent's internal note on a conversation: kept apart from messages, so no customer path can show it."""

    __tablename__ = "agent_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class QueueEntry:
    """One conversation as the queue shows it."""

    conversation_id: str
    site_id: str
    state: str  # waiting | claimed | closed
    handoff_reason: str | None
    handoff_at: datetime | None
    waiting_s: float  # handoff to claim (claimed, closed) or to now (waiting)
    agent: str | None
    claimed_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    last_customer_message: str
    sentiment: str | None  # of the customer's last message


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC); compare on the same footing.
    if value is None:
        return None
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clean(value: str, what: str, limit: int) -> str:
    text = (value or "").strip()
    if what != "text":
        text = " ".join(text.split())
    if not text:
        raise InvalidMessage(f"{what} must not be empty")
    if len(text) > limit:
        raise InvalidMessage(f"{what} is {len(text)} characters; the limit is {limit}")
    return text


class AgentQueue:
    def __init__(self, store: Store, conversations: Conversations, webhooks: WebhookSender) -> None:
        self._store = store
        self._conversations = conversations
        self.webhooks = webhooks

    # -- reading --------------------------------------------------------------------------------
    def items(self, site_id: str, view: View = "waiting", *, agent: str | None = None,
              limit: int = 50) -> list[QueueEntry]:
        """The site's queue: waiting (longest first), claimed or mine (by `agent`), closed (latest first)."""
        if view not in VIEWS:
            raise InvalidMessage(f"view must be one of {list(VIEWS)}")
        if view == "mine" and not (agent or "").strip():
            raise InvalidMessage("view 'mine' needs the agent's name")
        now = utcnow()
        with self._store.session() as s:
            if view == "closed":
                rows = s.execute(select(QueueItem, Conversation).join(Conversation)
                                 .where(QueueItem.site_id == site_id, QueueItem.closed_at.is_not(None))
                                 .order_by(QueueItem.closed_at.desc()).limit(limit)).all()
                return [self._entry(s, conv, item, now) for item, conv in rows]
            convs = s.scalars(select(Conversation).where(Conversation.site_id == site_id,
                                                         Conversation.status == "handoff")
                              .order_by(Conversation.handoff_at, Conversation.id)).all()
            out = []
            for conv in convs:
                item = self._open_item(s, conv)
                claimed = item is not None and item.agent is not None
                if (view == "waiting" and claimed) or (view != "waiting" and not claimed):
                    continue
                if view == "mine" and item is not None and item.agent != " ".join(str(agent).split()):
                    continue
                out.append(self._entry(s, conv, item, now))
                if len(out) >= limit:
                    break
            return out

    def entry(self, conversation_id: str, site_id: str) -> QueueEntry:
        """The conversation's place in the queue now (its latest handoff); ConversationNotFound if not the site's."""
        with self._store.session() as s:
            conv = self._conversation(s, conversation_id, site_id)
            item = self._open_item(s, conv) if conv.status == "handoff" else self._last_item(s, conv.id)
            return self._entry(s, conv, item, utcnow())

    def notes(self, conversation_id: str, site_id: str) -> list[AgentNote]:
        with self._store.session() as s:
            self._conversation(s, conversation_id, site_id)
            return list(s.scalars(select(AgentNote).where(AgentNote.conversation_id == conversation_id)
                                  .order_by(AgentNote.id)).all())

    # -- acting ---------------------------------------------------------------------------------
    def claim(self, conversation_id: str, site_id: str, agent: str) -> QueueEntry:
        """`agent` takes the handed-off conversation (again: no change). AlreadyClaimed if someone else has it."""
        name = _clean(agent, "agent", MAX_AUTHOR_CHARS)
        with self._store.session() as s:
            conv = self._handed_off(s, conversation_id, site_id)
            item = self._claim(s, conv, name)
            entry = self._entry(s, conv, item, utcnow())
        handoffs.acknowledge(self._store, conversation_id, name)  # keeps GET .../handoff's acknowledged_at true
        self.webhooks.send(site_id, "claim", {"conversation_id": conversation_id, "agent": name,
                                              "waiting_s": round(entry.waiting_s, 1)})
        return entry

    def reply(self, conversation_id: str, site_id: str, author: str, text: str, *,
              max_chars: int = MAX_MESSAGE_CHARS) -> Message:
        """A person's message to the customer, stored in the transcript with its author (Conversations.agent_reply);
        an unclaimed conversation becomes the author's."""
        message = self._conversations.agent_reply(conversation_id, site_id, author, text, max_chars=max_chars)
        name = message.author or author
        with self._store.session() as s:
            conv = self._conversation(s, conversation_id, site_id)
            if conv.status == "handoff":
                item = self._open_item(s, conv)
                if item is None or item.agent is None:
                    self._claim(s, conv, name, audit_it=False)
            audit.record(s, site_id, name, "reply", f"conversation:{conversation_id}",
                         {"message_id": message.id, "seq": message.seq, "chars": len(message.content)})
        self.webhooks.send(site_id, "reply", {"conversation_id": conversation_id, "author": name,
                                              "message_id": message.id, "message": message.content})
        return message

    def note(self, conversation_id: str, site_id: str, author: str, text: str) -> AgentNote:
        """An internal note for the site's agents; stored apart from the transcript, never sent to the customer."""
        name = _clean(author, "author", MAX_AUTHOR_CHARS)
        body = _clean(text, "text", MAX_NOTE_CHARS)
        with self._store.session() as s:
            self._conversation(s, conversation_id, site_id)
            note = AgentNote(conversation_id=conversation_id, site_id=site_id, author=name, text=body,
                             created_at=utcnow())
            s.add(note)
            s.flush()
            audit.record(s, site_id, name, "note", f"conversation:{conversation_id}",
                         {"note_id": note.id, "chars": len(body)})
        return note

    def close(self, conversation_id: str, site_id: str, agent: str) -> QueueEntry:
        """The matter is done: the handoff ends (the assistant answers any later message)."""
        return self._end(conversation_id, site_id, agent, "close")

    def hand_back(self, conversation_id: str, site_id: str, agent: str = "") -> QueueEntry:
        """The person is done for now: the assistant answers the conversation again."""
        return self._end(conversation_id, site_id, agent, "hand_back")

    def notify_handoff(self, conversation_id: str, data: dict[str, Any]) -> None:
        """Announce a new handoff to the conversation's site webhook (the facade calls this on every handoff)."""
        with self._store.session() as s:
            site_id = s.scalar(select(Conversation.site_id).where(Conversation.id == conversation_id))
        if site_id is not None:
            self.webhooks.send(site_id, "handoff", {"conversation_id": conversation_id, **data})

    # -- internals ------------------------------------------------------------------------------
    def _end(self, conversation_id: str, site_id: str, agent: str, outcome: str) -> QueueEntry:
        name = " ".join((agent or "").split())[:MAX_AUTHOR_CHARS] or "agent"
        now = utcnow()
        with self._store.session() as s:
            conv = self._handed_off(s, conversation_id, site_id)
            item = self._open_item(s, conv)
            if item is None:
                item = QueueItem(conversation_id=conv.id, site_id=site_id, handoff_at=conv.handoff_at)
                s.add(item)
            item.closed_at, item.closed_by, item.outcome = now, name, outcome
            reason = conv.handoff_reason
            conv.status, conv.handoff_reason, conv.updated_at = "active", None, now
            s.flush()
            audit.record(s, site_id, name, outcome, f"conversation:{conversation_id}",
                         {"claimed_by": item.agent, "reason": reason})
            entry = self._entry(s, conv, item, now)
        self.webhooks.send(site_id, outcome, {"conversation_id": conversation_id, "agent": name})
        return entry

    def _claim(self, s: Session, conv: Conversation, name: str, *, audit_it: bool = True) -> QueueItem:
        item = self._open_item(s, conv)
        if item is not None and item.agent not in (None, name):
            raise AlreadyClaimed(f"conversation {conv.id} is claimed by {item.agent}")
        if item is None:
            item = QueueItem(conversation_id=conv.id, site_id=conv.site_id, handoff_at=conv.handoff_at)
            s.add(item)
        if item.agent is None:
            item.agent, item.claimed_at = name, utcnow()
            s.flush()
            if audit_it:
                audit.record(s, conv.site_id, name, "claim", f"conversation:{conv.id}", {"queue_item": item.id})
        return item

    @staticmethod
    def _conversation(s: Session, conversation_id: str, site_id: str) -> Conversation:
        conv = s.get(Conversation, conversation_id)
        if conv is None or conv.site_id != site_id:
            raise ConversationNotFound(conversation_id)
        return conv

    def _handed_off(self, s: Session, conversation_id: str, site_id: str) -> Conversation:
        conv = self._conversation(s, conversation_id, site_id)
        if conv.status != "handoff":
            raise NotHandedOff(conversation_id)
        return conv

    @staticmethod
    def _open_item(s: Session, conv: Conversation) -> QueueItem | None:
        """The unfinished queue row of the conversation's current handoff, if any. A row left open by an earlier
        handoff (ended some other way) is closed here, so it cannot make a new handoff look claimed."""
        item = s.scalar(select(QueueItem).where(QueueItem.conversation_id == conv.id, QueueItem.closed_at.is_(None))
                        .order_by(QueueItem.id.desc()).limit(1))
        if item is None:
            return None
        started = _aware(conv.handoff_at)
        if started is not None and (_aware(item.claimed_at) or started) < started:
            item.closed_at, item.outcome = utcnow(), "hand_back"
            return None
        return item

    @staticmethod
    def _last_item(s: Session, conversation_id: str) -> QueueItem | None:
        return s.scalar(select(QueueItem).where(QueueItem.conversation_id == conversation_id)
                        .order_by(QueueItem.id.desc()).limit(1))

    @staticmethod
    def _entry(s: Session, conv: Conversation, item: QueueItem | None, now: datetime) -> QueueEntry:
        last = s.execute(select(Message.content, Message.sentiment).where(Message.conversation_id == conv.id,
                                                                          Message.role == "user")
                         .order_by(Message.seq.desc()).limit(1)).first()
        started = _aware(item.handoff_at if item is not None and item.handoff_at else conv.handoff_at)
        claimed = _aware(item.claimed_at) if item is not None else None
        closed = _aware(item.closed_at) if item is not None else None
        end = claimed or closed or now
        state = "closed" if closed else ("claimed" if item is not None and item.agent else "waiting")
        return QueueEntry(
            conversation_id=conv.id, site_id=conv.site_id, state=state,
            handoff_reason=conv.handoff_reason if state != "closed" else None, handoff_at=started,
            waiting_s=max(0.0, (end - started).total_seconds()) if started else 0.0,
            agent=item.agent if item is not None else None, claimed_at=claimed, closed_at=closed,
            outcome=item.outcome if item is not None else None,
            last_customer_message=last[0] if last else "", sentiment=last[1] if last else None)
