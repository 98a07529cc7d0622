"""Embedded transformers backend: the default engine, runs the chat model in-process on CPU or GPU.

Generation runs on one worker thread that owns the model; requests wait in a bounded
queue (the server turns a full queue into 503 + Retry-After). Tokens travel back to the
event loop as they are decoded, so streaming needs no extra threads per request, and a
consumer that stops iterating cancels its generation at the next token.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from assistant.engine.backends.base import (
    AdapterNotFound,
    BackendError,
    Generation,
    GenerationRequest,
)
from assistant.engine.models import ModelNotFound, hf_folder, resolve_chat_model

_DONE = object()


class QueueFull(BackendError):
    """Too many requests are waiting; callers should retry later (HTTP 503)."""


@dataclass
class _Job:
    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue
    cancelled: threading.Event = field(default_factory=threading.Event)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


class TransformersBackend:
    name = "transformers"

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.ref = resolve_chat_model(settings.engine.chat_model)
        self.model_id = self.ref.name
        self.max_context_tokens = settings.engine.max_context_tokens
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=settings.engine.queue_size)
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
        if self.settings.engine.threads:
            torch.set_num_threads(self.settings.engine.threads)
        device = self.settings.engine.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype_name = self.settings.engine.dtype
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
        """Switch the worker's model to `name` (None = base). Runs on the worker thread only."""
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
        if self._worker and self._worker.is_alive():
            self._jobs.put(None)
            await asyncio.to_thread(self._worker.join, 5)

    # -- protocol ----------------------------------------------------------------------------
    def adapters(self) -> list[str]:
        return sorted(self._adapters)

    def queue_depth(self) -> int:
        return self._jobs.qsize()

    def _encode(self, messages: list[dict[str, str]]) -> list[int]:
        ids = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self._encode(messages))

    def _submit(self, request: GenerationRequest) -> _Job:
        if self._model is None:
            raise BackendError("backend not started")
        if request.adapter and request.adapter not in self._adapters:
            raise AdapterNotFound(f"adapter {request.adapter!r} is not loaded; available: {self.adapters() or 'none'}")
        job = _Job(request=request, loop=asyncio.get_running_loop(), out=asyncio.Queue())
        try:
            self._jobs.put_nowait(job)
        except queue.Full as exc:
            raise QueueFull("generation queue is full") from exc
        return job

    async def _drain(self, job: _Job) -> AsyncIterator[str]:
        try:
            while True:
                item = await job.out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancelled.set()  # consumer left (disconnect, cancel): the worker stops at the next token

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        async for piece in self._drain(self._submit(request)):
            yield piece

    async def generate(self, request: GenerationRequest) -> Generation:
        job = self._submit(request)
        text = "".join([piece async for piece in self._drain(job)])
        return Generation(text=text, prompt_tokens=job.prompt_tokens,
                          completion_tokens=job.completion_tokens, finish_reason=job.finish_reason)

    # -- worker ------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job.cancelled.is_set():
                continue
            try:
                self._ensure_adapter(job.request.adapter or self.settings.engine.adapter or None)
                self._decode(job)
                job.loop.call_soon_threadsafe(job.out.put_nowait, _DONE)
            except BaseException as exc:  # noqa: BLE001 - surfaced to the awaiting coroutine
                err = exc if isinstance(exc, BackendError) else BackendError(f"generation failed: {exc}")
                job.loop.call_soon_threadsafe(job.out.put_nowait, err)

    def _decode(self, job: _Job) -> None:
        import torch

        sampling = job.request.sampling
        prompt = self._encode(job.request.messages)
        budget = self.max_context_tokens - len(prompt)
        if budget < 1:
            raise BackendError(f"prompt of {len(prompt)} tokens exceeds the context of {self.max_context_tokens}")
        max_new = min(sampling.max_tokens, budget)
        job.prompt_tokens = len(prompt)
        generator = torch.Generator(device="cpu")
        if sampling.seed is not None:
            generator.manual_seed(sampling.seed)
        eos = set(_as_list(self._model.generation_config.eos_token_id) + _as_list(self._tokenizer.eos_token_id))
        holdback = max((len(s) for s in sampling.stop), default=1) - 1
        emitted = 0
        generated: list[int] = []
        text = ""
        with torch.inference_mode():
            input_ids = torch.tensor([prompt], device=self._device)
            out = self._model(input_ids=input_ids, use_cache=True)
            for _ in range(max_new):
                if job.cancelled.is_set():
                    job.finish_reason = "cancelled"
                    return
                logits = out.logits[0, -1].float()
                token = _pick(logits, sampling.temperature, sampling.top_p, generator)
                if token in eos:
                    break
                generated.append(token)
                text = self._tokenizer.decode(generated, skip_special_tokens=True)
                stop_at = _find_stop(text, sampling.stop)
                if stop_at is not None:
                    text = text[:stop_at]
                    break
                # an incomplete UTF-8 sequence decodes to U+FFFD: hold it until the next byte-token
                safe = len(text) - 1 if text.endswith("\ufffd") else len(text) - holdback
                if safe > emitted:
                    job.loop.call_soon_threadsafe(job.out.put_nowait, text[emitted:safe])
                    emitted = safe
                out = self._model(
                    input_ids=torch.tensor([[token]], device=self._device),
                    past_key_values=out.past_key_values,
                    use_cache=True,
                )
            else:
                job.finish_reason = "length"
        job.completion_tokens = len(generated)
        text = text.rstrip("\ufffd")
        if len(text) > emitted:
            job.loop.call_soon_threadsafe(job.out.put_nowait, text[emitted:])


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [int(value)]


def _find_stop(text: str, stops: list[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


def _pick(logits: Any, temperature: float, top_p: float, generator: Any) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
        sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
        choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))

