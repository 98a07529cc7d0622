"""Server-sent events -> the engine's typed stream events (classification, sources, token, handoff, done, error)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from pydantic import TypeAdapter

from assistant.engine.events import StreamEvent

EVENT = TypeAdapter(StreamEvent)


class Decoder:
    """Feed lines one at a time; a blank line completes an event. Comments (keep-alives) are skipped."""

    def __init__(self) -> None:
        self.name, self.data = "message", []

    def feed(self, line: str) -> Any | None:
        line = line.rstrip("\r")
        if not line:
            if not self.data:
                return None
            name, data = self.name, "\n".join(self.data)
            self.name, self.data = "message", []
            return EVENT.validate_python({"type": name, **json.loads(data)})
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self.name = value
        elif field == "data":
            self.data.append(value)
        return None


def events(lines: Iterator[str]) -> Iterator[Any]:
    decoder = Decoder()
    for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event


async def aevents(lines: AsyncIterator[str]) -> AsyncIterator[Any]:
    decoder = Decoder()
    async for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event
