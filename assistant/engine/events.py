"""Typed results and stream events of one assistant turn.

The facade yields these; only the server turns them into server-sent events (one
`event: <type>` + JSON `data:` per event). Order within a turn:
classification -> sources -> token* -> [handoff] -> done   (or error at any point).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field


class Source(BaseModel):
    """A knowledge-base passage the answer is grounded on."""

    index: int = Field(description="1-based citation number as used in the answer ([1], [2], ...).")
    doc_id: str
    chunk_id: str = ""
    title: str
    snippet: str
    score: float = Field(description="Calibrated relevance in [0, 1].")
    url: str | None = None
    section: str | None = None


class IntentScore(BaseModel):
    intent: str
    probability: float


class Sentiment(BaseModel):
    label: Literal["negative", "neutral", "positive"]
    score: float = Field(description="Signed polarity in [-1, 1]: -1 very negative, +1 very positive.")


class Handoff(BaseModel):
    reason: Literal["customer_request", "negative_sentiment", "repeated_abstention", "policy"]
    detail: str = ""
    after_hours: bool = Field(False, description="Outside the site's opening hours: the customer was told when a "
                              "person answers and may leave an e-mail address (POST /v1/conversations/{id}/contact).")
    opens_at: datetime | None = Field(None, description="When a person answers next (the site's time zone), "
                                      "after hours.")


class Timings(BaseModel):
    understanding_ms: float = 0.0
    retrieval_ms: float = 0.0
    ttft_ms: float | None = Field(None, description="Time to first streamed answer token.")
    total_ms: float = 0.0
    prompt_tokens: int = Field(0, description="Tokens of the full model prompt (rules, sources, history, question); "
                                              "0 when no model ran (template, abstention, handoff).")
    completion_tokens: int = 0
    tokens_per_second: float | None = None


class Classification(BaseModel):
    intent: str | None = Field(description="Top intent, or None when out of scope.")
    confidence: float
    intents: list[IntentScore] = Field(default_factory=list, description="Top-k intents with probabilities.")
    out_of_scope: bool = False
    sentiment: Sentiment
    language: str = Field("unknown", description="The message's language (ISO 639-1 code) or 'unknown'.")


# How a turn was answered: a curated template or FAQ entry, small talk, a checked generated answer, the
# extractive answer (whole passage sentences), or no answer (abstain, handoff, paused while a person has it).
Route = Literal["template", "faq", "smalltalk", "generate", "extractive", "abstain", "handoff", "paused"]
ANSWERED_ROUTES = ("template", "faq", "smalltalk", "generate", "extractive")


class Reply(BaseModel):
    """Everything one turn produced. Present in the facade, the HTTP API and the stream's done event."""

    conversation_id: str
    message_id: str
    answer: str
    sources: list[Source] = Field(default_factory=list)
    intent: str | None = None
    confidence: float = 0.0
    intents: list[IntentScore] = Field(default_factory=list)
    sentiment: Sentiment | None = None
    template_id: str | None = None
    handoff: Handoff | None = None
    abstained: bool = False
    route: Route = "generate"
    model: str = ""
    timings: Timings = Field(default_factory=Timings)


class ClassificationEvent(BaseModel):
    type: Literal["classification"] = "classification"
    conversation_id: str
    classification: Classification


class SourcesEvent(BaseModel):
    type: Literal["sources"] = "sources"
    sources: list[Source]


class TokenEvent(BaseModel):
    type: Literal["token"] = "token"
    text: str


class HandoffEvent(BaseModel):
    type: Literal["handoff"] = "handoff"
    handoff: Handoff


class DoneEvent(BaseModel):
    type: Literal["done"] = "done"
    reply: Reply


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str


StreamEvent = Annotated[
    ClassificationEvent | SourcesEvent | TokenEvent | HandoffEvent | DoneEvent | ErrorEvent,
    Field(discriminator="type"),
]
