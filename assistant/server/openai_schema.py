"""Request, response and error bodies of the OpenAI-compatible endpoints (/v1/chat/completions, /v1/models).

Field names follow OpenAI's chat-completions API so its clients work unmodified. The product's own
extras live in one extension object, `assistant`, on the request (conversation id) and on the
response (intent, sentiment, sources, handoff, ...). Ranges are declared here and rejected with 400,
never clamped; fields this server does not act on (logprobs, user, ...) are accepted and ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.engine.events import Handoff, Sentiment, Source, Timings

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
               422: "invalid_request_error", 429: "rate_limit_error"}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, refusal, ...: accepted, unused

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """The message as plain text; only text parts are understood (an image part is a 400 upstream)."""
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class RequestExtension(BaseModel):
    """The request's `assistant` object (openai client: `extra_body={"assistant": {...}}`)."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(None, max_length=64, description="Continue this stored conversation.")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="The base model id or a registered adapter (see GET /v1/models).")
    messages: list[ChatMessage] = Field(description="The last user message is the question; see README.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    n: int | None = Field(None, ge=1, le=1, description="Only one choice is produced.")
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="Validated; not applied.")
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="Validated; not applied.")
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    assistant: RequestExtension | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else [s for s in self.stop if s]

    def token_limit(self) -> tuple[str, int] | None:
        """(param name, value) of the completion budget the caller set, if any."""
        if self.max_completion_tokens is not None:
            return "max_completion_tokens", self.max_completion_tokens
        if self.max_tokens is not None:
            return "max_tokens", self.max_tokens
        return None


class ResponseExtension(BaseModel):
    """The response's `assistant` object: what the pipeline decided on this turn."""

    conversation_id: str
    message_id: str
    route: str
    intent: str | None = None
    confidence: float = 0.0
    sentiment: Sentiment | None = None
    template_id: str | None = None
    sources: list[Source] = Field(default_factory=list)
    handoff: Handoff | None = None
    abstained: bool = False
    timings: Timings = Field(default_factory=Timings)


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens of the model prompt the engine built (system rules, sources, "
                                           "history, question); for a template or abstention reply, which runs no "
                                           "model, the question's tokens.")
    completion_tokens: int = Field(description="Tokens of the answer, counted with the engine's tokenizer.")
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    logprobs: None = None
    finish_reason: Literal["stop", "length"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: str | None = None
    choices: list[Choice]
    usage: Usage
    assistant: ResponseExtension


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    system_fingerprint: str | None = None
    choices: list[ChunkChoice]
    usage: Usage | None = None
    assistant: ResponseExtension | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    root: str
    parent: str | None = Field(None, description="For an adapter: the base model it was trained on.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
