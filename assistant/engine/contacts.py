"""The e-mail address a customer leaves during a handoff, so a person can write back (outside opening hours).

    contacts.leave(store, conversation_id, "acme", "jo@example.com")   # ConversationNotFound, InvalidContact
    contacts.email_of(store, conversation_id)                           # what agents see (GET conversation, inbox)

Kept apart from the transcript, one address per conversation (a second one replaces the first): the messages
hold only redacted text, and training and conversation exports read only the messages, so the address never
reaches them. It goes with the conversation when that is erased or its site deleted (foreign key, cascade).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine.errors import ConversationNotFound
from assistant.engine.store import Base, Conversation, Store, utcnow

MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path
# One @, a local part without spaces, a domain with a dot and a letters-only top level: what a typo breaks.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$")


class InvalidContact(ValueError):
    """The address cannot be an e-mail address; the message says why (the API answers 400)."""


class ConversationContact(Base):
    __tablename__ = "conversation_contacts"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_CHARS))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def validate_email(value: str | None) -> str:
    email = (value or "").strip()
    if not email:
        raise InvalidContact("email must not be empty")
    if len(email) > MAX_EMAIL_CHARS:
        raise InvalidContact(f"email is {len(email)} characters; the limit is {MAX_EMAIL_CHARS}")
    if ".." in email or not _EMAIL.match(email):
        raise InvalidContact(f"{email!r} is not an e-mail address (name@example.com)")
    return email


def leave(store: Store, conversation_id: str, site_id: str, email: str) -> ConversationContact:
    """Store (or replace) the conversation's contact address; checked before anything is written."""
    address = validate_email(email)
    with store.session() as s:
        conv = s.get(Conversation, conversation_id)
        if conv is None or conv.site_id != site_id:
            raise ConversationNotFound(conversation_id)
        row = s.get(ConversationContact, conversation_id)
        if row is None:
            row = ConversationContact(conversation_id=conversation_id, site_id=site_id)
            s.add(row)
        row.email, row.created_at = address, utcnow()
        s.flush()
        return row


def email_of(store: Store, conversation_id: str) -> str | None:
    with store.session() as s:
        return s.scalar(select(ConversationContact.email).where(
            ConversationContact.conversation_id == conversation_id))
