"""The streamed chat completion: facade events -> OpenAI `chat.completion.chunk` frames -> `data: [DONE]`.

Order: a role chunk, one content chunk per answer token, a chunk with `finish_reason`, then (when
`stream_options.include_usage`) a usage chunk with no choices. The LAST chunk before [DONE] carries
the `assistant` extension object. Errors after the stream started arrive in-band as
`data: {"error": {...}}`, which OpenAI clients raise as APIError.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import BaseModel

from assistant.engine.errors import ConversationNotFound, InvalidMessage, QueueFull
from assistant.engine.events import DoneEvent, Reply, TokenEvent
from assistant.server.openai_errors import error_object
from assistant.server.openai_schema import ChatCompletionChunk, ChunkChoice, Delta, ResponseExtension, Usage

DONE = "data: [DONE]\n\n"


def data(obj: BaseModel | dict[str, Any]) -> str:
    body = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj
    return f"data: {json.dumps(body, ensure_ascii=False, separators=(',', ':'))}\n\n"


class Trimmer:
    """Streams exactly `"".join(pieces).strip()`, the text the JSON reply carries.

    The facade strips the joined answer, so leading whitespace is dropped here and trailing
    whitespace is held back until more text follows it.
    """

    def __init__(self) -> None:
        self.sent = ""
        self._pending = ""

    def feed(self, piece: str) -> str:
        if not self.sent:
            piece = (self._pending + piece).lstrip()
            self._pending = ""
        text = self._pending + piece
        body = text.rstrip()
        self._pending = text[len(body):]
        self.sent += body
        return body

    def finish(self, answer: str) -> str:
        """What is still missing of the final answer (all of it when the facade substituted an apology)."""
        return answer[len(self.sent):] if answer.startswith(self.sent) else ""


class ChunkStream:
    """Renders one turn's events as SSE frames; `on_done(reply)` supplies usage, finish reason and extension."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool,
                 on_done: Callable[[Reply], tuple[Usage, str, ResponseExtension]]) -> None:
        self.completion_id, self.created, self.model = completion_id, created, model
        self.include_usage, self.on_done = include_usage, on_done

    def _chunk(self, choices: list[ChunkChoice], **extra: Any) -> str:
        chunk = ChatCompletionChunk(id=self.completion_id, created=self.created, model=self.model,
                                    choices=choices, **extra).model_dump(mode="json")
        # as OpenAI does: absent, not null, when a chunk has no usage/extension or a delta lacks a field
        for key in ("usage", "assistant"):
            if chunk[key] is None:
                del chunk[key]
        for choice in chunk["choices"]:
            choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
        return data(chunk)

    def _delta(self, content: str) -> str:
        return self._chunk([ChunkChoice(delta=Delta(content=content))])

    def _final(self, reply: Reply) -> list[str]:
        usage, finish_reason, extension = self.on_done(reply)
        last = {"assistant": extension}
        finish = self._chunk([ChunkChoice(delta=Delta(), finish_reason=finish_reason)],
                             **({} if self.include_usage else last))
        if not self.include_usage:
            return [finish]
        return [finish, self._chunk([], usage=usage, **last)]

    async def frames(self, events: AsyncIterator[Any]) -> AsyncIterator[str]:
        yield self._chunk([ChunkChoice(delta=Delta(role="assistant", content=""))])
        trim = Trimmer()
        try:
            async for event in events:
                if isinstance(event, TokenEvent):
                    text = trim.feed(event.text)
                    if text:
                        yield self._delta(text)
                elif isinstance(event, DoneEvent):
                    tail = trim.finish(event.reply.answer)
                    if tail:
                        yield self._delta(tail)
                    for frame in self._final(event.reply):
                        yield frame
        except (InvalidMessage, ConversationNotFound) as exc:
            yield data(error_object(400, "invalid_request", str(exc)))
        except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
            code = "overloaded" if isinstance(exc, QueueFull) else "engine_error"
            yield data(error_object(503, code, str(exc)))
        yield DONE
