"""Deterministic fake backend for fast tests: replies are queued with `enqueue`, else echo a rule.

    backend = FakeBackend(settings); backend.enqueue("Refunds take 5 days [1].")

Without queued replies it answers from the first source in the prompt, so tests can
assert grounding without a model.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from assistant.engine.backends import base
from assistant.engine.backends.base import AdapterNotFound, Generation, GenerationRequest, QueueFull


class FakeBackend:
    name = "fake"

    def __init__(self, settings: Any = None, *, delay: float = 0.0, adapters: list[str] | None = None) -> None:
        self.model_id = "fake-model"
        self.max_context_tokens = 4096
        self.delay = delay
        self._queue: deque[str] = deque()
        self._adapters = list(adapters or [])
        self.requests: list[GenerationRequest] = []
        self.default_reply = "I'm sorry, I don't know."  # the reply when nothing is queued and no source is quoted
        self.max_batch_size = base.MAX_BATCH_SIZE
        self.queue_size = base.QUEUE_SIZE
        self._active = 0

    def enqueue(self, *replies: str) -> None:
        self._queue.extend(replies)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def adapters(self) -> list[str]:
        return list(self._adapters)

    def queue_depth(self) -> int:
        return max(0, self._active - self.max_batch_size)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def _answer(self, request: GenerationRequest) -> str:
        if self._queue:
            return self._queue.popleft()
        prompt = request.messages[-1]["content"] if request.messages else ""
        match = re.search(r"\[1\][^\n]*\n(.+?)(?:\n\[2\]|\n</sources>|$)", prompt, re.S)
        if match:
            first = match.group(1).strip().split(". ")[0].strip().rstrip(".")
            return f"{first}. [1]"
        return self.default_reply

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        async for piece in self._pieces(request, {}):
            yield piece

    async def _pieces(self, request: GenerationRequest, outcome: dict[str, bool]) -> AsyncIterator[str]:
        if request.adapter and request.adapter not in self._adapters:
            raise AdapterNotFound(f"adapter {request.adapter!r} is not loaded")
        if self._active >= self.max_batch_size + self.queue_size:
            raise QueueFull("generation queue is full")
        self.requests.append(request)
        text = self._answer(request)
        cuts = [text.find(stop) for stop in request.sampling.stop if stop and stop in text]
        text = text[: min(cuts)] if cuts else text  # stop strings end the reply, as in the real engines
        words = re.findall(r"\S+\s*", text)  # a word stands for a token
        outcome["capped"] = request.sampling.max_tokens < len(words)
        words = words[: request.sampling.max_tokens]
        self._active += 1
        try:
            for piece in words:
                await asyncio.sleep(self.delay)
                yield piece
        finally:
            self._active -= 1

    async def generate(self, request: GenerationRequest) -> Generation:
        outcome: dict[str, bool] = {}
        parts = [piece async for piece in self._pieces(request, outcome)]
        return Generation(text="".join(parts), prompt_tokens=self.count_tokens(request.messages),
                          completion_tokens=len(parts), finish_reason="length" if outcome["capped"] else "stop")
