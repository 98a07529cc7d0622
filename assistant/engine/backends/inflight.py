"""One generation in flight on a local engine's worker thread, and the channel back to its consumer.

The onnx and transformers backends run their engine's own generation loop on a worker thread; the
engine hands back text pieces (its tokenizer's stream decoder does the UTF-8 joining). This object
takes those pieces, ends the answer at the first stop string (onnxruntime-genai supports stop strings
only with dynamic batching, which its CPU provider lacks), holds back text that could still turn into
one, and forwards the rest to the consumer's event loop, so that the joined stream always equals the
non-streamed text. A consumer that stops reading sets `cancelled`; the worker then cancels the
request in its engine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from assistant.engine.backends.base import BackendError, GenerationRequest

DONE = object()


@dataclass
class InFlight:
    request: GenerationRequest
    prompt: list[int]
    max_new: int
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    text: str = ""
    emitted: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    stopped: bool = False  # a stop string ended it: the engine is told to cancel, the reason stays "stop"
    done: bool = False

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt)

    def _send(self, item: Any) -> None:
        self.loop.call_soon_threadsafe(self.out.put_nowait, item)

    def feed(self, piece: str) -> bool:
        """Take the engine's next piece of text; True when a stop string ended the answer."""
        if self.stopped or self.done:
            return self.stopped
        self.text += piece
        stops = [s for s in self.request.sampling.stop if s]
        hits = [self.text.find(s) for s in stops if s in self.text]
        if hits:
            self.text = self.text[: min(hits)]
            self.stopped = True
            return True
        holdback = max((len(s) for s in stops), default=1) - 1
        safe = len(self.text) - holdback
        if safe > self.emitted:
            self._send(self.text[self.emitted:safe])
            self.emitted = safe
        return False

    def finish(self, reason: str, completion_tokens: int) -> None:
        """The engine is done with it: flush the held-back text and end the stream."""
        if self.done:
            return
        self.done = True
        self.finish_reason = "stop" if self.stopped else reason
        self.completion_tokens = completion_tokens
        if len(self.text) > self.emitted:
            self._send(self.text[self.emitted:])
            self.emitted = len(self.text)
        self._send(DONE)

    def fail(self, exc: BaseException) -> None:
        if self.done:
            return
        self.done = True
        self._send(exc if isinstance(exc, BackendError) else BackendError(f"generation failed: {exc}"))

    async def pieces(self) -> AsyncIterator[str]:
        """The consumer's side: text pieces until the end; leaving early cancels the generation."""
        try:
            while True:
                item = await self.out.get()
                if item is DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.cancelled.set()
