"""Typed responses of the SDK: the server's own pydantic models, re-exported in one place, and
ConversationExport, the one answer that is a download rather than a JSON body."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

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
    ContactOut,
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
from assistant.server.template_schemas import TemplateOut, TemplatesOut, VersionOut
from assistant.server.unanswered_schemas import UnansweredAnswerOut, UnansweredGroupOut, UnansweredOut

Conversation = ConversationOut
Message = MessageOut


class ConversationExport(BaseModel):
    """GET /v1/exports/conversations: the redacted download as text, and how many conversations it holds."""

    format: Literal["jsonl", "csv"]
    count: int = Field(description="Conversations in it (the server's X-Export-Count).")
    text: str = Field(description="The file as the server sent it: JSONL, or CSV with a header row.")

    def records(self) -> list[dict[str, Any]]:
        """JSONL: one dict a conversation (its messages inside); CSV: one dict a message row."""
        if self.format == "csv":
            return list(csv.DictReader(io.StringIO(self.text)))
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

__all__ = [
    "Classification", "ClassificationEvent", "ContactOut", "Conversation", "ConversationExport", "ConversationPage", "ConversationSummary", "DeliveryOut",
    "DoneEvent", "NoteOut", "QueueItemOut", "QueueOut",
    "ErrorEvent", "FeedbackOut", "Handoff", "HandoffEvent", "HandoffOut", "Health", "KbDocument", "KbHit",
    "KbUploadOut", "Message", "NewMessagesOut", "Reply", "Sentiment", "SiteOut", "Source", "SourcesEvent", "StreamEvent", "ThreadMessage",
    "TemplateOut", "TemplatesOut", "Timings", "TokenEvent", "UnansweredAnswerOut", "UnansweredGroupOut",
    "UnansweredOut", "VersionOut",
]
