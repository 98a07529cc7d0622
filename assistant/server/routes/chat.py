"""POST /v1/chat: one turn, as JSON or as server-sent events (stream=true), for the caller's site.

The site comes from the key (or widget session), never from the request body: its knowledge-base
namespace and adapter are used, and a conversation of another site is a 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from assistant.engine.backends import SamplingParams
from assistant.engine.errors import ConversationNotFound, InvalidMessage, QueueFull
from assistant.engine.events import DoneEvent, ErrorEvent
from assistant.engine.facade import Assistant
from assistant.server import sse
from assistant.server.auth import Principal, check_conversation, link_session
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.metrics import observe_reply
from assistant.server.ratelimit import QuotaCallerDep
from assistant.server.schemas import ChatRequest, ChatResponse

router = APIRouter(prefix="/v1", tags=["chat"])


def _sampling(body: ChatRequest, assistant: Assistant) -> SamplingParams | None:
    if body.temperature is None and body.max_tokens is None:
        return None
    base = assistant.default_sampling()
    if body.temperature is not None:
        base.temperature = body.temperature
    if body.max_tokens is not None:
        base.max_tokens = body.max_tokens
    return base


def _admit(assistant: Assistant) -> None:
    """Refuse before streaming starts when the engine's queue is full (503 + Retry-After, not an error frame)."""
    if assistant.model.queue_full():
        raise APIError(503, "overloaded",
                       f"{assistant.model.queue_depth()} requests are waiting for the engine; retry shortly",
                       headers={"Retry-After": "2"})


def _link(assistant: Assistant, caller: Principal, reply: Any) -> None:
    link_session(assistant.conversations, caller, reply.conversation_id)


@router.post("/chat", response_model=ChatResponse, dependencies=[JSONBody],
             responses={200: {"content": {"text/event-stream": {}}}})
async def chat(body: ChatRequest, assistant: AssistantDep, caller: QuotaCallerDep) -> Any:
    site = caller.site
    kwargs = {"adapter": body.adapter or site.adapter or None, "sampling": _sampling(body, assistant),
              "site_id": site.id, "namespace": site.namespace}
    # Validate before streaming starts, so bad input is a 4xx JSON error, not an error frame.
    assistant.validate(body.message)
    if body.conversation_id is not None:
        check_conversation(assistant.conversations, caller, body.conversation_id)
    _admit(assistant)
    if not body.stream:
        reply = await assistant.chat(body.message, body.conversation_id, **kwargs)
        _link(assistant, caller, reply)
        observe_reply(reply, "json")
        return reply

    events = assistant.stream(body.message, body.conversation_id, **kwargs)
    first = await _first_event(events)

    async def guarded() -> AsyncIterator[Any]:
        yield first
        try:
            async for event in events:
                if isinstance(event, DoneEvent):
                    _link(assistant, caller, event.reply)
                    observe_reply(event.reply, "stream")
                yield event
        except (InvalidMessage, ConversationNotFound) as exc:
            yield ErrorEvent(code="invalid_request", message=str(exc))
        except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
            code = "overloaded" if isinstance(exc, QueueFull) else "engine_error"
            yield ErrorEvent(code=code, message=str(exc))

    return StreamingResponse(
        sse.with_keepalive(guarded()),
        media_type="text/event-stream",
        headers=sse.SSE_HEADERS,
    )


async def _first_event(events: AsyncIterator[Any]) -> Any:
    try:
        return await anext(events)
    except StopAsyncIteration as exc:  # pragma: no cover - the facade always yields
        raise APIError(500, "empty_stream", "the engine produced no events") from exc
