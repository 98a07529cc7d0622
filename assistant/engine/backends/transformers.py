"""Embedded transformers backend: the default engine, runs the chat model in-process on CPU or GPU.

One worker thread owns the model and batches every running chat into one forward pass per
decoded token (batcher.py): up to `max_batch_size` rows decode together, newcomers are
prefilled and merged at step boundaries (continuous batching), and rows leave as they finish.
Requests beyond the batch wait in a bounded queue (`queue_size`; full -> QueueFull, which
the server turns into 503 + Retry-After). Tokens travel back to the event loop as they are decoded,
and a consumer that stops iterating cancels its row at the next step.

transformers' own continuous batching (`generate_batch`, paged attention) was tried first: on this
2-core CPU it ran at 8.5 tokens/s for 16 chats and lacks per-request temperature/seed, hence this.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

from assistant.engine.backends import base
from assistant.engine.backends.base import (
    AdapterNotFound,
    BackendError,
    Generation,
    GenerationRequest,
)
from assistant.engine.models import ModelNotFound, hf_folder, resolve_chat_model

# Prompt tokens (padded) prefilled per step: bounds how long running rows stall while newcomers join.
PREFILL_TOKENS = 2048


class QueueFull(BackendError):
    """Too many requests are waiting; callers should retry later (HTTP 503)."""


class TransformersBackend:
    name = "transformers"
    prefill_tokens = PREFILL_TOKENS

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.ref = resolve_chat_model(settings.engine.chat_model)
        self.model_id = self.ref.name
        # the serving limits (base.py); tests shrink them on the instance before start()
        self.max_context_tokens = base.MAX_CONTEXT_TOKENS
        self.max_batch_size = base.MAX_BATCH_SIZE
        self.queue_size = base.QUEUE_SIZE
        self.threads = base.THREADS
        self._waiting: collections.deque[Any] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self._running = 0
        self._worker: threading.Thread | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._adapters: dict[str, str] = {}
        self._active_adapter: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self._load)
        self._worker = threading.Thread(target=self._run, name="transformers-generate", daemon=True)
        self._worker.start()

    def _load(self) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - torch is a core dependency
            raise BackendError(f"transformers backend needs torch and transformers: {exc}") from exc
        if self.threads:
            torch.set_num_threads(self.threads)
        device = base.DEVICE
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype_name = base.DTYPE
        if dtype_name == "auto":
            dtype_name = "bfloat16" if device == "cuda" else "float32"
        try:
            folder = hf_folder(self.ref, self.settings.cache_dir)
        except (OSError, ValueError, ModelNotFound) as exc:
            raise BackendError(f"cannot load chat model {self.ref.path}: {exc}") from exc
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype_name))
        self._model = model.to(device).eval()
        self._device = device
        self._eos = set(_as_list(model.generation_config.eos_token_id) + _as_list(self._tokenizer.eos_token_id))
        pad = self._tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else min(self._eos, default=0)
        self._discover_adapters()
        if self.settings.engine.adapter:
            self._ensure_adapter(self.settings.engine.adapter)

    def _discover_adapters(self) -> None:
        root = self.settings.engine.adapters_dir
        if root and os.path.isdir(root):
            for name in sorted(os.listdir(root)):
                if os.path.exists(os.path.join(root, name, "adapter_config.json")):
                    self._adapters[name] = os.path.join(root, name)

    def _ensure_adapter(self, name: str | None) -> None:
        """Switch the worker's model to `name` (None = base). Runs on the worker thread only, between batches."""
        if name == self._active_adapter:
            return
        if name is None:
            self._model.disable_adapter_layers() if hasattr(self._model, "disable_adapter_layers") else None
            self._active_adapter = None
            return
        if name not in self._adapters:
            raise AdapterNotFound(f"adapter {name!r} is not loaded; available: {sorted(self._adapters) or 'none'}")
        from peft import PeftModel

        if not isinstance(self._model, PeftModel):
            self._model = PeftModel.from_pretrained(self._model, self._adapters[name], adapter_name=name)
        elif name not in self._model.peft_config:
            self._model.load_adapter(self._adapters[name], adapter_name=name)
        self._model.enable_adapter_layers()
        self._model.set_adapter(name)
        self._active_adapter = name

    async def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._worker and self._worker.is_alive():
            await asyncio.to_thread(self._worker.join, 5)

    # -- protocol ----------------------------------------------------------------------------
    def adapters(self) -> list[str]:
        return sorted(self._adapters)

    def queue_depth(self) -> int:
        """Requests waiting for a batch slot."""
        return len(self._waiting)

    def active(self) -> int:
        """Rows decoding in the current batch."""
        return self._running

    def _encode(self, messages: list[dict[str, str]]) -> list[int]:
        ids = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self._encode(messages))

    def _submit(self, request: GenerationRequest) -> Any:
        from assistant.engine.backends.batcher import Sequence

        if self._model is None or self._closing:
            raise BackendError("backend not started")
        if request.adapter and request.adapter not in self._adapters:
            raise AdapterNotFound(f"adapter {request.adapter!r} is not loaded; available: {self.adapters() or 'none'}")
        prompt = self._encode(request.messages)
        budget = self.max_context_tokens - len(prompt)
        if budget < 1:
            raise BackendError(f"prompt of {len(prompt)} tokens exceeds the context of {self.max_context_tokens}")
        seq = Sequence(request=request, prompt=prompt, max_new=min(request.sampling.max_tokens, budget),
                       loop=asyncio.get_running_loop(), out=asyncio.Queue())
        with self._wake:
            if len(self._waiting) >= self.queue_size:
                raise QueueFull("generation queue is full")
            self._waiting.append(seq)
            self._wake.notify()
        return seq

    async def _drain(self, seq: Any) -> AsyncIterator[str]:
        from assistant.engine.backends.batcher import DONE

        try:
            while True:
                item = await seq.out.get()
                if item is DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            seq.cancelled.set()  # consumer left (disconnect, cancel): its row is dropped at the next step

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        async for piece in self._drain(self._submit(request)):
            yield piece

    async def generate(self, request: GenerationRequest) -> Generation:
        seq = self._submit(request)
        text = "".join([piece async for piece in self._drain(seq)])
        return Generation(text=text, prompt_tokens=seq.prompt_tokens,
                          completion_tokens=seq.completion_tokens, finish_reason=seq.finish_reason)

    # -- worker ------------------------------------------------------------------------------
    def _adapter_of(self, seq: Any) -> str | None:
        return seq.request.adapter or self.settings.engine.adapter or None

    def _take(self, batch: Any) -> list[Any]:
        """Newcomers for the next step, in arrival order: free slots, the batch's adapter, a prefill budget.

        The batch runs one adapter; a waiting request for another adapter blocks admission behind it
        (head of line) so the batch drains and switches instead of starving it.
        """
        taken: list[Any] = []
        adapter = self._active_adapter if len(batch) else None
        while self._waiting and len(batch) + len(taken) < self.max_batch_size:
            seq = self._waiting[0]
            if seq.cancelled.is_set():
                self._waiting.popleft()
                continue
            wanted = self._adapter_of(seq)
            if (len(batch) or taken) and wanted != adapter:
                break
            width = max([len(seq.prompt)] + [len(s.prompt) for s in taken])
            if taken and width * (len(taken) + 1) > self.prefill_tokens:
                break
            adapter = wanted
            taken.append(self._waiting.popleft())
        return taken

    def _run(self) -> None:
        from assistant.engine.backends.batcher import DecodeBatch

        batch = DecodeBatch(self._model, self._tokenizer, self._device, self._eos, self._pad_id)
        while True:
            with self._wake:
                while not self._waiting and not len(batch) and not self._closing:
                    self._wake.wait()
                if self._closing:
                    closed = BackendError("backend closed")
                    batch.fail_all(closed)
                    while self._waiting:
                        self._waiting.popleft().fail(closed)
                    return
                newcomers = self._take(batch)
            if newcomers:
                try:
                    if not len(batch):
                        self._ensure_adapter(self._adapter_of(newcomers[0]))
                        batch.model = self._model  # PeftModel wraps the base model on first adapter use
                    batch.admit(newcomers)
                except BaseException as exc:  # noqa: BLE001 - surfaced to the awaiting coroutines
                    for seq in newcomers:
                        seq.fail(exc)
            try:
                batch.step()
            except BaseException as exc:  # noqa: BLE001 - surfaced to the awaiting coroutines
                batch.fail_all(exc)
            self._running = len(batch)


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [int(value)]
