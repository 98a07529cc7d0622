"""What the two in-process engines (onnx, transformers) share: admission, the worker thread, streaming.

Each backend loads its engine in `_load()` and drives that engine's own generation loop in `_serve()`,
on one worker thread that owns the engine. Requests wait in a bounded queue (`max_batch_size` running
plus `queue_size` waiting; beyond that QueueFull, which the server answers with 503 + Retry-After).
The prompt is rendered with the model's Hugging Face tokenizer and chat template, the same on every
backend, so a prompt counts the same tokens everywhere.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from assistant.engine.backends import base
from assistant.engine.backends.base import (
    AdapterNotFound,
    BackendError,
    Generation,
    GenerationRequest,
    QueueFull,
    prompt_ids,
)
from assistant.engine.backends.inflight import InFlight
from assistant.engine.models import resolve_chat_model


class LocalBackend:
    name = "local"

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.ref = resolve_chat_model(settings.engine.chat_model)
        self.model_id = self.ref.name
        # the serving limits (base.py); tests shrink them on the instance before start()
        self.max_context_tokens = base.MAX_CONTEXT_TOKENS
        self.max_batch_size = base.MAX_BATCH_SIZE
        self.queue_size = base.QUEUE_SIZE
        self.threads = base.THREADS
        self._incoming: list[InFlight] = []
        self._running = 0
        self._wake = threading.Condition()
        self._closing = False
        self._worker: threading.Thread | None = None
        self._tokenizer: Any = None
        self._adapters: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self._load)
        self._worker = threading.Thread(target=self._serve, name=f"{self.name}-generate", daemon=True)
        self._worker.start()

    def _load(self) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._worker and self._worker.is_alive():
            await asyncio.to_thread(self._worker.join, 10)

    # -- protocol ----------------------------------------------------------------------------
    def adapters(self) -> list[str]:
        return sorted(self._adapters)

    def queue_depth(self) -> int:
        """Requests waiting for a place in the engine's batch."""
        with self._wake:
            return max(0, len(self._incoming) + self._running - self.max_batch_size)

    def active(self) -> int:
        """Requests the engine is generating for now."""
        return self._running

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(prompt_ids(self._tokenizer, messages))

    def _submit(self, request: GenerationRequest) -> InFlight:
        if self._tokenizer is None or self._closing:
            raise BackendError("backend not started")
        request.sampling.validate()
        if request.adapter and request.adapter not in self._adapters:
            raise AdapterNotFound(f"adapter {request.adapter!r} is not loaded; available: {self.adapters() or 'none'}")
        prompt = prompt_ids(self._tokenizer, request.messages)
        budget = self.max_context_tokens - len(prompt)
        if budget < 1:
            raise BackendError(f"prompt of {len(prompt)} tokens exceeds the context of {self.max_context_tokens}")
        chat = InFlight(request=request, prompt=prompt, max_new=min(request.sampling.max_tokens, budget),
                        loop=asyncio.get_running_loop())
        with self._wake:
            if len(self._incoming) + self._running >= self.max_batch_size + self.queue_size:
                raise QueueFull("generation queue is full")
            self._incoming.append(chat)
            self._wake.notify()
        return chat

    def _wait_for_work(self, running: int) -> list[InFlight] | None:
        """On the worker: newcomers for the free places in the batch (waiting for one while the engine is
        idle), counted as running from here on; None once closing."""
        with self._wake:
            while not running and not self._incoming and not self._closing:
                self._wake.wait()
            if self._closing:
                closed = BackendError("backend closed")
                for chat in self._incoming:
                    chat.fail(closed)
                self._incoming.clear()
                return None
            free = max(0, self.max_batch_size - running)
            taken, self._incoming = self._incoming[:free], self._incoming[free:]
            self._running = running + len(taken)
            return taken

    def _ran(self, running: int) -> None:
        with self._wake:
            self._running = running

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        async for piece in self._submit(request).pieces():
            yield piece

    async def generate(self, request: GenerationRequest) -> Generation:
        chat = self._submit(request)
        text = "".join([piece async for piece in chat.pieces()])
        return Generation(text=text, prompt_tokens=chat.prompt_tokens,
                          completion_tokens=chat.completion_tokens, finish_reason=chat.finish_reason)


def as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [int(value)]
