"""Conversations as routes, CLI and console see them: `Assistant.conversations`, the one door to the stored turns.

    conv = assistant.conversations.get(conversation_id, site_id)       # ConversationNotFound if not this site's
    page = assistant.conversations.page("acme", status="handoff", limit=20)
    assistant.conversations.agent_reply(conversation_id, "acme", "Sam", "Your parcel left today.")
    new = assistant.conversations.messages_after(conversation_id, "acme", after_seq=4)   # what a widget polls
    assistant.conversations.hand_back(conversation_id)

Besides reading and erasing conversations it does what is recorded about them: the widget session that
started one, a customer's request for a person and the agent's acknowledgement, reviews of replies
(ratings, corrections and what they export), and intents an operator assigns to customer messages.
Callers get the store's detached rows (Conversation, Message, Feedback; their fields are read-only data)
and never open a database session themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy import func, select

from assistant.engine import handoffs, reviews, sites
from assistant.engine.errors import ConversationNotFound, InvalidMessage
from assistant.engine.privacy import redact
from assistant.engine.settings import ServerConfig
from assistant.engine.store import Conversation, Message, Store
from assistant.engine.understanding.language import UNKNOWN, detect_language

if TYPE_CHECKING:
    import pandas as pd

    from assistant.engine.intent_examples import IntentAssignment

HANDOFF_REASON = "customer_request"  # why a conversation a customer handed off is with a person
MAX_MESSAGE_CHARS = ServerConfig.model_fields["max_message_chars"].default  # server.max_message_chars' default
MAX_AUTHOR_CHARS = 100  # an agent's display name, as the customer sees it


class TranscriptTurn(TypedDict):
    """One message as handoff callbacks (the webhook's summary among them) get a conversation: the only shape."""

    role: str  # user (the customer) | assistant | agent (a person, after the handoff)
    content: str
    intent: str | None
    sentiment: str | None  # positive | neutral | negative


def transcript(messages: Iterable[Any]) -> list[TranscriptTurn]:
    """Stored messages (anything with role, content, intent and sentiment) as handoff transcript turns."""
    return [TranscriptTurn(role=m.role, content=m.content, intent=m.intent, sentiment=m.sentiment) for m in messages]


@dataclass(frozen=True)
class ConversationPage:
    """One page of a site's conversations, newest activity first, and how many match in all."""

    items: Sequence[Conversation]
    total: int


@dataclass(frozen=True)
class NewMessages:
    """A conversation's messages after a point (what a polling widget has not shown yet) and its status now."""

    conversation_id: str
    status: str  # active | handoff
    messages: Sequence[Message]
    last_seq: int  # ask for the messages after this one next (the left-out silent replies count too)


@dataclass(frozen=True)
class HandoffState:
    """Whether a person or the assistant has the conversation, and when an agent acknowledged the handoff."""

    conversation_id: str
    status: str  # active | handoff
    handoff_reason: str | None
    acknowledged_at: datetime | None


class Conversations:
    def __init__(self, store: Store, security: Any) -> None:
        self._store = store
        self._security = security  # privacy: what redact() masks in the text a customer sends

    # -- reading --------------------------------------------------------------------------------
    def get(self, conversation_id: str, site_id: str | None = None) -> Conversation:
        """The conversation with its messages in order; ConversationNotFound unless it is `site_id`'s."""
        return self._store.get_conversation(conversation_id, site_id)

    def exists(self, conversation_id: str, site_id: str | None = None) -> bool:
        return self._store.exists(conversation_id, site_id)

    def check_access(self, conversation_id: str, site_id: str, session_id: str | None = None) -> None:
        """ConversationNotFound unless the conversation is the site's and, for a widget session, its own."""
        if not self._store.exists(conversation_id, site_id):
            raise ConversationNotFound(conversation_id)
        if session_id is not None and not sites.session_owns(self._store, conversation_id, session_id):
            raise ConversationNotFound(conversation_id)

    def page(self, site_id: str, *, status: str | None = None, since: datetime | None = None,
             until: datetime | None = None, handoff_reason: str | None = None, limit: int = 20,
             offset: int = 0) -> ConversationPage:
        """The site's conversations updated in [since, until), with that status and handoff reason."""
        where = [Conversation.site_id == site_id]
        if status:
            where.append(Conversation.status == status)
        if since:
            where.append(Conversation.updated_at >= since)
        if until:
            where.append(Conversation.updated_at < until)
        if handoff_reason:
            where.append(Conversation.handoff_reason == handoff_reason)
        with self._store.session() as s:
            total = s.scalar(select(func.count(Conversation.id)).where(*where)) or 0
            rows = s.scalars(
                select(Conversation).where(*where).order_by(Conversation.updated_at.desc(), Conversation.id)
                .limit(limit).offset(offset)
            ).all()
        return ConversationPage(items=list(rows), total=total)

    def site_ids(self) -> set[str]:
        """Every site that has a conversation."""
        with self._store.session() as s:
            return set(s.scalars(select(Conversation.site_id).distinct()).all())

    def frame(self, *, site_id: str | None = None, since: datetime | None = None,
              until: datetime | None = None) -> pd.DataFrame:
        """Every message (of one site, within [since, until)) as the console's analytics frame."""
        from assistant.engine.analytics import load_frame

        return load_frame(self._store, site_id=site_id, since=since, until=until)

    # -- erasing and linking --------------------------------------------------------------------
    def delete(self, conversation_id: str, site_id: str | None = None) -> None:
        """Erase a conversation: its messages, reviews, acknowledgements and widget link go with it."""
        self._store.delete_conversation(conversation_id, site_id)

    def link_session(self, conversation_id: str, site_id: str, session_id: str) -> None:
        """Record that a widget session started this conversation (only that session may open it)."""
        sites.link_conversation(self._store, conversation_id, site_id, session_id)

    # -- handoff to a person --------------------------------------------------------------------
    def request_person(self, conversation_id: str | None, site_id: str, note: str, answer: str) -> tuple[str, str]:
        """Store the customer's request (`note`, redacted) and the reply `answer` as one turn, and hand the
        conversation to a person; starts a conversation when `conversation_id` is None.

        Returns (conversation id, the reply's message id)."""
        user = {"content": redact(note, self._security), "route": None}
        bot = {"content": answer, "route": "handoff", "handoff_reason": HANDOFF_REASON}
        return self._store.add_turn(conversation_id, site_id, user, bot, handoff_reason=HANDOFF_REASON)

    def transcript(self, conversation_id: str, site_id: str | None = None) -> list[TranscriptTurn]:
        """The conversation's messages in order, in the shape handoff callbacks get (ConversationNotFound
        unless it is `site_id`'s)."""
        return transcript(self._store.get_conversation(conversation_id, site_id).messages)

    def customer_language(self, conversation_id: str | None, site_id: str | None = None, text: str | None = None
                          ) -> str:
        """The language a handoff asked for now is told in: `text`'s (the customer's note) when it can be told,
        else the one the customer last wrote in (each message's, detected when stored; the widget's button sends
        no note), else unknown."""
        language = detect_language(text or "")
        if language != UNKNOWN or conversation_id is None:
            return language
        for m in reversed(self._store.get_conversation(conversation_id, site_id).messages):
            if m.role == "user" and m.language and m.language != UNKNOWN:
                return m.language
        return UNKNOWN

    def handoff(self, conversation_id: str, site_id: str | None = None) -> HandoffState:
        conv = self._store.get_conversation(conversation_id, site_id)
        acked = handoffs.acknowledged_at(self._store, conv.id, conv.handoff_at) if conv.status == "handoff" else None
        return HandoffState(conversation_id=conv.id, status=conv.status, handoff_reason=conv.handoff_reason,
                            acknowledged_at=acked)

    def acknowledge_handoff(self, conversation_id: str, agent: str = "") -> None:
        """An agent (`agent` names them) has taken the handed-off conversation."""
        handoffs.acknowledge(self._store, conversation_id, agent)

    def agent_reply(self, conversation_id: str, site_id: str, author: str, text: str, *,
                    max_chars: int = MAX_MESSAGE_CHARS) -> Message:
        """Store a person's message in the handed-off conversation, with `author` (their display name) for the
        customer to see; returns the stored message (its seq, role "agent", author, content, created_at).

        InvalidMessage: empty text, text over `max_chars` (the customer's limit, server.max_message_chars), or an
        empty or over-long author. ConversationNotFound: not `site_id`'s. NotHandedOff: the assistant has it.
        Nothing is stored on any of these."""
        body, name = (text or "").strip(), " ".join((author or "").split())
        if not body:
            raise InvalidMessage("text must not be empty")
        if len(body) > max_chars:
            raise InvalidMessage(f"text is {len(body)} characters; the limit is {max_chars}")
        if not name:
            raise InvalidMessage("author must not be empty: the customer sees who replies")
        if len(name) > MAX_AUTHOR_CHARS:
            raise InvalidMessage(f"author is {len(name)} characters; the limit is {MAX_AUTHOR_CHARS}")
        return self._store.add_agent_message(conversation_id, site_id, name, body)

    def messages_after(self, conversation_id: str, site_id: str, after_seq: int = 0,
                       limit: int = 100) -> NewMessages:
        """The messages numbered above `after_seq` (oldest first, at most `limit`) and the conversation's status;
        ConversationNotFound unless it is `site_id`'s. The empty replies the assistant stored while a person had
        the conversation (route "paused": it stayed silent) are left out."""
        with self._store.session() as s:  # the status alone: a widget asks every second, the transcript can be long
            status = s.scalar(select(Conversation.status).where(Conversation.id == conversation_id,
                                                                Conversation.site_id == site_id))
        if status is None:
            raise ConversationNotFound(conversation_id)
        rows = self._store.messages_after(conversation_id, after_seq, limit)
        said = [m for m in rows if not (m.role == "assistant" and m.route == "paused" and not m.content)]
        return NewMessages(conversation_id=conversation_id, status=status, messages=said,
                           last_seq=rows[-1].seq if rows else after_seq)

    def hand_back(self, conversation_id: str) -> None:
        """The person is done: the assistant answers the conversation again."""
        self._store.set_status(conversation_id, "active", None)

    # -- reviews of replies ---------------------------------------------------------------------
    def record_feedback(self, conversation_id: str, message_id: str, rating: reviews.Rating | None,
                        correction: str | None) -> reviews.Feedback:
        """Rate and/or correct one assistant reply (reviews.record_feedback: ReviewError, MessageNotFound)."""
        return reviews.record_feedback(self._store, conversation_id, message_id, rating, correction)

    def feedback(self, conversation_id: str) -> dict[str, reviews.Feedback]:
        """Reviews of the conversation's replies, by message id."""
        return reviews.feedback_for(self._store, conversation_id)

    def template_suggestions(self) -> list[reviews.Suggestion]:
        return reviews.template_suggestions(self._store)

    def export_reviewed(self, path: str | Path) -> int:
        """Reviewed turns as fine-tuning JSONL at `path`; returns how many."""
        return reviews.export_reviewed(self._store, path)

    def write_suggestions(self, path: str | Path) -> int:
        """Template suggestions from corrected answers as templates.yaml at `path`; returns how many."""
        return reviews.write_suggestions_yaml(self._store, path)

    # -- intents operators assign ---------------------------------------------------------------
    def assigned_message_ids(self) -> set[str]:
        from assistant.engine.intent_examples import assigned_message_ids

        return assigned_message_ids(self._store)

    def assign_intent(self, message_id: str, intent: str, examples_csv: Path | None = None) -> IntentAssignment:
        """Label one customer message with `intent`; it becomes a training example in `examples_csv` (None: it
        leaves the review queue only; the console adds it to its site's examples, Assistant.intents)."""
        from assistant.engine.intent_examples import assign_intent

        return assign_intent(self._store, message_id, intent, examples_csv)
