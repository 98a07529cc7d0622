"""Test helper shared by the backend tests: drain a backend's stream, optionally leaving early (a disconnect)."""

from __future__ import annotations

from typing import Any

from assistant.engine.backends import GenerationRequest


async def collect(backend: Any, request: GenerationRequest, stop_after: int | None = None) -> str:
    pieces: list[str] = []
    stream = backend.stream(request)
    async for piece in stream:
        pieces.append(piece)
        if stop_after is not None and len(pieces) >= stop_after:
            break
    await stream.aclose()
    return "".join(pieces)


def flood(backend: Any, requests: list[GenerationRequest]) -> tuple[list[Any], list[Any]]:
    """Send every request at once to a started backend with a small queue, close it; (refused, served)."""
    import asyncio

    from assistant.engine.backends.transformers import QueueFull

    async def run() -> list:
        return await asyncio.gather(*(backend.generate(r) for r in requests), return_exceptions=True)

    try:
        results = asyncio.run(run())
    finally:
        asyncio.run(backend.close())
    refused = [r for r in results if isinstance(r, QueueFull)]
    served = [r for r in results if not isinstance(r, BaseException)]
    assert len(refused) + len(served) == len(requests), results  # nothing failed any other way
    return refused, served
