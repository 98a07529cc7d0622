"""Server-sent events: the only place where typed engine events become `event:`/`data:` frames.

Keep-alive comments go out while the engine is silent (first-token wait, queueing), so
proxies and browsers don't drop the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
# Seconds of engine silence before a `: keep-alive` comment: well under the 30-60 s idle timeouts of common proxies
KEEPALIVE_SECONDS = 10.0


def frame(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {event}\n{lines}\n"


def encode(event: BaseModel) -> str:
    return frame(getattr(event, "type", "message"), event.model_dump_json())


async def with_keepalive(events: AsyncIterator[Any], interval: float = KEEPALIVE_SECONDS,
                         render=encode) -> AsyncIterator[str]:
    """Render events as SSE frames, inserting `: keep-alive` comments every `interval` seconds of silence.

    The producer runs as a task so a silent engine doesn't block the keep-alives; when the
    consumer goes away (client disconnect) the producer is cancelled, which cancels generation.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=256)
    done = object()

    async def produce() -> None:
        try:
            async for item in events:
                await queue.put(item)
        except Exception as exc:  # noqa: BLE001 - forwarded to the consumer as an error frame
            await queue.put(exc)
        finally:
            await queue.put(done)

    task = asyncio.create_task(produce())
    try:
        yield ": connected\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=interval)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if item is done:
                return
            if isinstance(item, Exception):
                raise item
            yield render(item)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
