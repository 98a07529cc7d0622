"""Concurrent streamed chats through the SDK, with time to first token and total latency per chat.

Used by tests/load/test_sse_concurrency.py and bench/load.py.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

from assistant.sdk import AsyncClient, RetryPolicy
from assistant.sdk.types import DoneEvent, ErrorEvent, TokenEvent


@dataclass
class LoadResult:
    chats: int
    errors: list[str] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    @staticmethod
    def _pct(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def summary(self) -> dict[str, float | int]:
        return {
            "chats": self.chats, "errors": len(self.errors), "wall_s": round(self.wall_s, 3),
            "ttft_p50_ms": round(self._pct(self.ttft_s, 0.5) * 1000, 1),
            "ttft_p99_ms": round(self._pct(self.ttft_s, 0.99) * 1000, 1),
            "total_p50_ms": round(self._pct(self.total_s, 0.5) * 1000, 1),
            "total_p99_ms": round(self._pct(self.total_s, 0.99) * 1000, 1),
            "total_mean_ms": round(statistics.fmean(self.total_s) * 1000, 1) if self.total_s else float("nan"),
        }


async def run_sse_load(base: str, chats: int, question: str = "How long do refunds take?",
                       api_key: str | None = None) -> LoadResult:
    """Start `chats` streamed chats at once; every one must end with a done event to count as a success."""
    result = LoadResult(chats=chats)
    async with AsyncClient(base, api_key, retry=RetryPolicy(max_retries=0), timeout=120.0,
                           max_connections=chats) as client:

        async def one(i: int) -> None:
            started, first, done = time.perf_counter(), None, None
            async for event in client.stream(f"{question} (#{i})"):
                if isinstance(event, TokenEvent) and first is None:
                    first = time.perf_counter() - started
                elif isinstance(event, ErrorEvent):
                    raise RuntimeError(f"{event.code}: {event.message}")
                elif isinstance(event, DoneEvent):
                    done = event.reply
            if done is None or not done.answer:
                raise RuntimeError("stream ended without a done event")
            result.total_s.append(time.perf_counter() - started)
            result.ttft_s.append(first if first is not None else result.total_s[-1])

        wall = time.perf_counter()
        outcomes = await asyncio.gather(*(one(i) for i in range(chats)), return_exceptions=True)
        result.wall_s = time.perf_counter() - wall
    result.errors = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    return result
