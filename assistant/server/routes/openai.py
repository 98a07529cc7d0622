"""OpenAI-compatible API: POST /v1/chat/completions (JSON or SSE chunks) and GET /v1/models.

Only shapes are translated here. The LAST user message goes through the same `Assistant` facade,
key/site/quota dependencies and admission check as POST /v1/chat (retrieval, intent, sentiment,
templates, abstention, handoff). Earlier turns in `messages`, and system messages, are not used:
history comes from the stored conversation named in the request's `assistant.conversation_id`.
`model` is the base model id (answers with the site's default adapter, if it has one) or the name
of an adapter the engine has loaded. Errors use OpenAI's error object (see openai_errors).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from assistant.engine.backends import SamplingParams
from assistant.engine.events import Reply
from assistant.engine.facade import Assistant
from assistant.engine.served_model import ServedModel
from assistant.server import sse
from assistant.server.auth import check_conversation
from assistant.server.deps import AssistantDep, JSONBody, SettingsDep
from assistant.server.metrics import observe_reply
from assistant.server.openai_errors import OpenAIRoute, invalid
from assistant.server.openai_schema import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    OpenAIError,
    ResponseExtension,
    Usage,
)
from assistant.server.openai_stream import ChunkStream
from assistant.server.ratelimit import LimitedCallerDep, QuotaCallerDep
from assistant.server.routes.chat import _admit, _first_event, _link

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)

STARTED = int(time.time())  # `created` of the base model: when this server process started
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": OpenAIError} for status in (400, 401, 404, 415, 429, 503)}


def _question(body: ChatCompletionRequest) -> str:
    if body.tools or body.functions:
        raise invalid("tools", "tool and function calling are not supported by this assistant", "unsupported_parameter")
    users = [i for i, m in enumerate(body.messages) if m.role == "user"]
    if not users:
        raise invalid("messages", "messages must contain a user message (the customer's question)")
    if users[-1] != len(body.messages) - 1:
        raise invalid("messages", "the last message must be the user's question")
    last = body.messages[-1]
    if isinstance(last.content, list) and any(part.type != "text" for part in last.content):
        raise invalid("messages", "only text content parts are supported", "unsupported_content")
    return last.text()


def _sampling(body: ChatCompletionRequest, assistant: Assistant, question: str) -> SamplingParams:
    sampling = assistant.default_sampling()
    if body.temperature is not None:
        sampling.temperature = body.temperature
    if body.top_p is not None:
        sampling.top_p = body.top_p
    sampling.stop, sampling.seed = body.stops(), body.seed
    limit = body.token_limit()
    if limit is not None:
        param, value = limit
        prompt = assistant.model.count_tokens([{"role": "user", "content": question}])
        window = assistant.model.context_window
        if prompt + value > window:
            raise invalid(param, f"This model's maximum context length is {window} tokens. However, you requested "
                                 f"{prompt + value} tokens ({prompt} in the messages, {value} in the completion).",
                          "context_length_exceeded")
        sampling.max_tokens = value
    return sampling


def _summary(reply: Reply, model: ServedModel, question: str, max_tokens: int) -> tuple[Usage, str, ResponseExtension]:
    # A generated answer reports its full prompt (rules, sources, history); other routes ran no model.
    prompt = reply.timings.prompt_tokens or model.count_tokens([{"role": "user", "content": question}])
    completion = model.text_tokens(reply.answer)
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
    # The facade does not report why generation stopped: a full budget means it was cut off.
    finish = "length" if reply.route == "generate" and completion >= max_tokens else "stop"
    extension = ResponseExtension(**reply.model_dump(include=set(ResponseExtension.model_fields)))
    return usage, finish, extension


@router.post("/chat/completions", response_model=ChatCompletion, dependencies=[JSONBody],
             responses={200: {"content": {"text/event-stream": {}}}, **ERRORS})
async def chat_completions(body: ChatCompletionRequest, assistant: AssistantDep, caller: QuotaCallerDep) -> Any:
    question = _question(body)
    adapter, model = assistant.model.resolve(body.model, caller.site.adapter)  # AdapterNotFound: 404
    assistant.validate(question)
    sampling = _sampling(body, assistant, question)
    conversation_id = body.assistant.conversation_id if body.assistant else None
    if conversation_id is not None:
        check_conversation(assistant.conversations, caller, conversation_id)
    _admit(assistant)
    kwargs = {"adapter": adapter, "sampling": sampling, "site_id": caller.site.id, "namespace": caller.site.namespace}
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def finished(reply: Reply, mode: str) -> tuple[Usage, str, ResponseExtension]:
        _link(assistant, caller, reply)
        observe_reply(reply, mode)
        return _summary(reply, assistant.model, question, sampling.max_tokens)

    if not body.stream:
        reply = await assistant.chat(question, conversation_id, **kwargs)
        usage, finish, extension = finished(reply, "json")
        return ChatCompletion(id=completion_id, created=created, model=model, usage=usage, assistant=extension,
                              choices=[Choice(message=AssistantMessage(content=reply.answer), finish_reason=finish)])

    events = assistant.stream(question, conversation_id, **kwargs)
    first = await _first_event(events)  # errors before the first event are still a 4xx JSON answer

    async def replay() -> Any:
        yield first
        async for event in events:
            yield event

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    chunks = ChunkStream(completion_id, created, model, include_usage, lambda reply: finished(reply, "stream"))
    return StreamingResponse(sse.with_keepalive(chunks.frames(replay()), render=str),
                             media_type="text/event-stream", headers=sse.SSE_HEADERS)


def _created(settings: Any, name: str) -> int:
    path = os.path.join(settings.engine.adapters_dir, name)
    return int(os.path.getmtime(path)) if os.path.isdir(path) else STARTED


@router.get("/models", response_model=ModelList, responses=ERRORS)
async def models(assistant: AssistantDep, settings: SettingsDep, caller: LimitedCallerDep) -> ModelList:
    served = assistant.model
    base = ModelCard(id=served.id, created=STARTED, owned_by="support-assistant", root=served.id)
    adapters = [ModelCard(id=name, created=_created(settings, name), owned_by="support-assistant",
                          root=served.id, parent=served.id) for name in served.adapters()]
    return ModelList(data=[base, *adapters])

