"""Request and response bodies of the site-scoped API (v1): sites, keys, widget sessions, conversations list,
feedback, handoff and knowledge base. Pydantic only, so the SDK can import them without FastAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ORIGIN_EXAMPLE = "https://help.example.com"
PROFILE_NOTE = ("{what}. Unset (null or empty): {builtin} (the default site: the global setting).")
# What the assistant says in the site's name (assistant/engine/site_profile.py): a site's own key may change these.
PROFILE_FIELDS = ("company", "greeting", "system_prompt", "handoff_message", "abstain_message")


class WidgetSettings(BaseModel):
    """How the widget looks for a site; `data-*` attributes on the script tag override these."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=80, examples=["Acme support"])
    greeting: str | None = Field(None, max_length=500, examples=["Hi! Ask me about orders, returns and delivery."])
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{3,8}$", examples=["#0b57d0"])
    position: Literal["left", "right"] | None = None
    language: Literal["auto", "en", "zh"] | None = None
    show_sources: bool | None = None
    strings: dict[str, dict[str, str]] | None = Field(
        None, description="UI text overrides per language, e.g. {'en': {'send': 'Ask'}}."
    )


class OpeningHoursIn(BaseModel):
    """When the site's people answer a handoff; outside these hours the customer is told when a person answers and
    may leave an e-mail address. A day not listed is closed. A bad zone or interval is a 400, nothing stored."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(max_length=64, description="IANA time zone of the times.", examples=["Europe/Amsterdam"])
    weekly: dict[str, list[str]] = Field(
        description="Day (mon..sun) -> intervals HH:MM-HH:MM (24:00 for midnight).",
        examples=[{"mon": ["09:00-12:30", "13:30-17:00"], "sat": ["10:00-14:00"]}])


class SiteFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(None, max_length=50, examples=[[ORIGIN_EXAMPLE]])
    namespace: str | None = Field(None, max_length=64, description="Knowledge-base namespace (default: the id).")
    adapter: str | None = Field(None, max_length=128, description="LoRA adapter that answers for this site.")
    intents_path: str | None = Field(
        None, max_length=500, description="The site's intent examples CSV (text,intent) on the server; its own intent "
        "model is trained from it. Unset: no intents (the default site: the global model). Empty string clears it.")
    templates_path: str | None = Field(
        None, max_length=500, description="The site's answer templates YAML on the server, checked when set. Unset: "
        "no templates (the default site: the global ones).")
    company: str | None = Field(None, max_length=200, examples=["Acme Bikes"], description=PROFILE_NOTE.format(
        what="Name the assistant speaks in (greetings, system prompt, templates' {company})", builtin="the site's name"))
    greeting: str | None = Field(None, max_length=1000, description=PROFILE_NOTE.format(
        what="Reply to a hello when the site has no greeting template", builtin="'Hi, welcome to <company>! ...'"))
    system_prompt: str | None = Field(None, max_length=8000, description=PROFILE_NOTE.format(
        what="The chat model's instructions and tone; {company} is replaced", builtin="the built-in prompt"))
    handoff_message: str | None = Field(None, max_length=2000, description=PROFILE_NOTE.format(
        what="What the customer is told when a person is asked for", builtin="the built-in message"))
    abstain_message: str | None = Field(None, max_length=2000, description=PROFILE_NOTE.format(
        what="What the customer is told when no reliable answer is found", builtin="the built-in message"))
    opening_hours: OpeningHoursIn | None = Field(None, description="When its people answer a handoff; null: always.")
    key_rate: str | None = Field(None, max_length=100, examples=["600/minute"])
    session_rate: str | None = Field(None, max_length=100, examples=["30/minute"])
    daily_quota: int | None = Field(None, ge=0, le=100_000_000, description="Chat messages per UTC day; 0 = none.")
    quota_message: str | None = Field(None, max_length=1000)
    widget: WidgetSettings | None = None
    webhook_url: str | None = Field(None, max_length=500, examples=["https://desk.acme.com/hooks/assistant"],
                                    description="Where agent-queue events are POSTed (http or https; empty: none).")
    webhook_secret: str | None = Field(None, max_length=200, description="HMAC-SHA256 key of the signature header "
                                       "(16-200 characters); generated when a URL is set without one.")
    webhook_format: Literal["json", "slack"] | None = Field(None, description="json (default) or slack: {'text'}.")


class SiteCreate(SiteFields):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["acme"])
    name: str = Field(min_length=1, max_length=200, examples=["Acme support"])  # type: ignore[assignment]


class SiteUpdate(SiteFields):
    pass


class SiteOut(BaseModel):
    id: str
    name: str
    namespace: str
    public_key: str = Field(description="Goes in the widget's data-site-key; public by design.")
    allowed_origins: list[str]
    adapter: str | None = None
    intents_path: str | None = None
    templates_path: str | None = None
    key_rate: str | None = None
    session_rate: str | None = None
    daily_quota: int | None = None
    quota_message: str | None = None
    widget: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    company: str | None = None
    greeting: str | None = None
    system_prompt: str | None = None
    handoff_message: str | None = None
    abstain_message: str | None = None
    opening_hours: dict[str, Any] | None = Field(None, description="{'timezone', 'weekly'}; null: always open.")
    webhook_url: str | None = None
    webhook_secret: str | None = Field(None, description="Signs each webhook body (X-Assistant-Signature).")
    webhook_format: str | None = None


class SiteDeleted(BaseModel):
    """What deleting a site removed."""

    site_id: str
    conversations: int = Field(description="Conversations deleted, with their messages, feedback and notes.")
    keys: int
    documents: int = Field(description="Documents deleted from the site's knowledge-base namespace.")
    namespace: str
    namespace_shared: bool = Field(description="Another site uses the namespace: its documents were kept.")


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=100, examples=["backend"])


class KeyOut(BaseModel):
    id: str
    site_id: str
    name: str
    prefix: str = Field(description="First characters of the key, to recognise it.")
    active: bool
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="The secret key. Shown only in this response; store it now.")


class WidgetSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_key: str = Field(min_length=3, max_length=100, description="The site's public key (pk_...).")
    session_id: str | None = Field(None, max_length=80, description="Resume this browser's earlier session.")


class WidgetSessionOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>' from the same origin.")
    session_id: str
    expires_in: int
    site_id: str
    site_name: str
    widget: dict[str, Any] = Field(default_factory=dict)


class ConversationSummary(BaseModel):
    id: str
    site_id: str
    status: str
    handoff_reason: str | None = None
    created_at: datetime
    updated_at: datetime


class ConversationPage(BaseModel):
    items: list[ConversationSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Pass as `offset` for the next page; null on the last.")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1, max_length=64)
    message_id: str = Field(min_length=1, max_length=64, description="The assistant message being rated.")
    rating: Literal["up", "down"] | None = None
    correction: str | None = Field(None, min_length=1, max_length=4000, description="What the answer should be.")

    @model_validator(mode="after")
    def _something(self) -> FeedbackRequest:
        if self.rating is None and (self.correction is None or not self.correction.strip()):
            raise ValueError("give a rating ('up'/'down'), a correction, or both")
        return self


class FeedbackOut(BaseModel):
    conversation_id: str
    message_id: str
    rating: str | None = None
    correction: str | None = None


class HandoffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(None, max_length=64, description="Omit to start a conversation with it.")
    message: str | None = Field(None, max_length=1000, description="Optional note from the customer.")


class HandoffOut(BaseModel):
    conversation_id: str
    status: str
    handoff_reason: str | None = None
    message: str = Field("", description="What the customer is told.")
    acknowledged_at: datetime | None = None
    after_hours: bool = Field(False, description="Outside the site's opening hours: the message says when a person "
                              "answers, and the customer may leave an e-mail address (POST .../contact).")
    opens_at: datetime | None = Field(None, description="When a person answers next (the site's zone), after hours.")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(description="Where a person may write back (at most 254 characters).",
                       examples=["jo@example.com"])


class ContactOut(BaseModel):
    conversation_id: str
    email: str = Field(description="The address as stored; agents see it with the conversation.")


class AgentMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The reply the customer sees (at most server.max_message_chars characters).",
                      examples=["Hi, I'm Sam. Your parcel left our warehouse this morning."])
    author: str = Field(description="The agent's display name, shown to the customer (at most 100 characters).",
                        examples=["Sam"])


class ThreadMessage(BaseModel):
    """One stored message: the customer's (user), the assistant's, or a person's (agent, with its author)."""

    id: str
    seq: int = Field(description="Its place in the conversation; poll with after=<the last seq you have>.")
    role: Literal["user", "assistant", "agent"]
    author: str | None = Field(None, description="The agent's display name (role agent).")
    content: str
    created_at: datetime


class NewMessagesOut(BaseModel):
    conversation_id: str
    status: str = Field(description="handoff: a person has the conversation; active: the assistant answers.")
    messages: list[ThreadMessage]
    last_seq: int = Field(description="Ask with after=last_seq next.")


class KbDocument(BaseModel):
    id: str
    title: str
    url: str | None = None
    chunks: int
    added_at: Any = None


class KbUploadOut(BaseModel):
    added: int
    updated: int
    skipped: int
    deleted: int
    chunks: int
    errors: list[tuple[str, str]] = Field(default_factory=list)
    version: int


class KbSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1000)
    k: int = Field(4, ge=1, le=20)
    mode: Literal["hybrid", "dense", "bm25"] | None = None


class KbHit(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    text: str
    score: float
    url: str | None = None
    section: str | None = None
