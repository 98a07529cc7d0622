"""Request and response bodies of the REST API (v1). Replies reuse the engine's typed models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assistant.engine.events import Reply, Source


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="The customer's message.", examples=["How long do refunds take?"])
    conversation_id: str | None = Field(None, max_length=64, description="Continue this conversation; omit to start one.")
    stream: bool = Field(False, description="Answer as server-sent events instead of one JSON object.")
    adapter: str | None = Field(None, max_length=128, description="LoRA adapter to answer with (default: the site's).")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=4096)


class ChatResponse(Reply):
    pass


class MessageOut(BaseModel):
    id: str
    seq: int | None = Field(None, description="Its place in the conversation.")
    role: str = Field(description="user | assistant | agent (a person, after a handoff)")
    author: str | None = Field(None, description="The agent's display name (role agent).")
    content: str
    created_at: datetime
    intent: str | None = None
    confidence: float | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    language: str | None = Field(None, description="A customer message's language (ISO 639-1 code) or 'unknown'.")
    route: str | None = None
    template_id: str | None = None
    abstained: bool = False
    handoff_reason: str | None = None
    sources: list[Source] = Field(default_factory=list)
    timings: dict[str, Any] = Field(default_factory=dict)


class ConversationOut(BaseModel):
    id: str
    site_id: str
    status: str
    handoff_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    contact_email: str | None = Field(None, description="The e-mail address the customer left for a person to "
                                      "write back (POST .../contact); never in exports.")
    messages: list[MessageOut] = Field(default_factory=list)


class LeftOutInput(BaseModel):
    where: str = Field(description='A file of the knowledge base, or one row of it: "faq.jsonl:12".')
    reason: str


class KnowledgeBaseHealth(BaseModel):
    documents: int | None = Field(None, description="Documents in the default knowledge base.")
    left_out: list[LeftOutInput] = Field(
        default_factory=list, description="Inputs the first-start ingest left out (the first 20).")
    left_out_total: int = 0


class Health(BaseModel):
    status: str
    ready: bool
    backend: str | None = None
    model: str | None = None
    detail: str | None = None
    knowledge_base: KnowledgeBaseHealth | None = None  # /readyz, once loaded
