"""POST /v1/chat: one turn, as JSON or as server-sent events (stream=true)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from assistant.engine.backends import SamplingParams
from assistant.engine.events import ErrorEvent
from assistant.engine.facade import InvalidMessage
from assistant.engine.store import ConversationNotFound
from assistant.server import sse
from assistant.server.deps import AssistantDep, JSONBody, SettingsDep
from assistant.server.errors import APIError
from assistant.server.schemas import ChatRequest, ChatResponse

router = APIRouter(prefix="/v1", tags=["chat"])


def _sampling(body: ChatRequest, assistant: Any) -> SamplingParams | None:
    if body.temperature is None and body.max_tokens is None:
        return None
    base = assistant._default_sampling()
    if body.temperature is not None:
        base.temperature = body.temperature
    if body.max_tokens is not None:
        base.max_tokens = body.max_tokens
    return base


@router.post("/chat", response_model=ChatResponse, dependencies=[JSONBody],
             responses={200: {"content": {"text/event-stream": {}}}})
async def chat(body: ChatRequest, assistant: AssistantDep, settings: SettingsDep) -> Any:
    kwargs = {"adapter": body.adapter, "sampling": _sampling(body, assistant)}
    # Validate before streaming starts, so bad input is a 4xx JSON error, not an error frame.
    assistant.validate(body.message)
    if body.conversation_id is not None and not assistant.store.exists(body.conversation_id):
        raise ConversationNotFound(body.conversation_id)
    if not body.stream:
        return await assistant.chat(body.message, body.conversation_id, **kwargs)

    events = assistant.stream(body.message, body.conversation_id, **kwargs)
    first = await _first_event(events)

    async def guarded() -> AsyncIterator[Any]:
        yield first
        try:
            async for event in events:
                yield event
        except (InvalidMessage, ConversationNotFound) as exc:
            yield ErrorEvent(code="invalid_request", message=str(exc))
        except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
            yield ErrorEvent(code="engine_error", message=str(exc))

    return StreamingResponse(
        sse.with_keepalive(guarded(), settings.server.keepalive_seconds),
        media_type="text/event-stream",
        headers=sse.SSE_HEADERS,
    )


async def _first_event(events: AsyncIterator[Any]) -> Any:
    try:
        return await anext(events)
    except StopAsyncIteration as exc:  # pragma: no cover - the facade always yields
        raise APIError(500, "empty_stream", "the engine produced no events") from exc
