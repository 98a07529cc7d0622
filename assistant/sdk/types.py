"""Typed responses of the SDK: the server's own pydantic models, re-exported in one place."""

from __future__ import annotations

from assistant.engine.events import (
    Classification,
    ClassificationEvent,
    DoneEvent,
    ErrorEvent,
    Handoff,
    HandoffEvent,
    Reply,
    Sentiment,
    Source,
    SourcesEvent,
    StreamEvent,
    Timings,
    TokenEvent,
)
from assistant.server.queue_schemas import DeliveryOut, NoteOut, QueueItemOut, QueueOut
from assistant.server.schemas import ConversationOut, Health, MessageOut
from assistant.server.site_schemas import (
    ConversationPage,
    ConversationSummary,
    FeedbackOut,
    HandoffOut,
    KbDocument,
    KbHit,
    KbUploadOut,
    NewMessagesOut,
    SiteOut,
    ThreadMessage,
)

Conversation = ConversationOut
Message = MessageOut

__all__ = [
    "Classification", "ClassificationEvent", "Conversation", "ConversationPage", "ConversationSummary", "DeliveryOut",
    "DoneEvent", "NoteOut", "QueueItemOut", "QueueOut",
    "ErrorEvent", "FeedbackOut", "Handoff", "HandoffEvent", "HandoffOut", "Health", "KbDocument", "KbHit",
    "KbUploadOut", "Message", "NewMessagesOut", "Reply", "Sentiment", "SiteOut", "Source", "SourcesEvent", "StreamEvent", "ThreadMessage",
    "Timings", "TokenEvent",
]
