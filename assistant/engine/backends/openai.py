"""OpenAI-compatible backend: generation on a separate server (`vllm serve --enable-lora`, llama.cpp, any /v1).

    ASSISTANT_ENGINE__BACKEND=openai ASSISTANT_ENGINE__OPENAI_BASE_URL=http://gpu-box:8000/v1

start() reads GET /models: the served base model (engine.chat_model when it is one of the ids,
else the first id) and its LoRA adapters (vLLM lists each `--lora-modules` name with `parent`
set to the base; servers without that field: every other id). An adapter is requested by using
its name as `model`, which is how vLLM routes LoRA requests. Streaming uses httpx and SSE;
closing the stream closes the HTTP response, which makes vLLM abort the request. A repetition
penalty is sent as vLLM's `repetition_penalty` extension (only when set); no-repeat n-grams are not sent.
count_tokens needs the server's tokenizer: it is loaded locally when the served id or
engine.chat_model names a model on this machine (folder, GGUF or HF cache), else the count is a
conservative bytes/3 estimate.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from assistant.engine.backends import base
from assistant.engine.backends.base import (
    AdapterNotFound,
    BackendError,
    Generation,
    GenerationRequest,
    QueueFull,
    prompt_ids,
)
from assistant.engine.models import ModelNotFound, resolve_chat_model

_TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=10.0, pool=10.0)


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.base_url = settings.engine.openai_base_url.rstrip("/")
        self.model_id = settings.engine.chat_model
        # the serving limits (base.py); the server's own max_model_len may lower the context at start()
        self.max_context_tokens = base.MAX_CONTEXT_TOKENS
        self.max_batch_size = base.MAX_BATCH_SIZE
        self.queue_size = base.QUEUE_SIZE
        self._client: httpx.AsyncClient | None = None
        self._adapters: list[str] = []
        self._tokenizer: Any = None
        self._inflight = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.base_url:
            raise BackendError("backend=openai needs ASSISTANT_ENGINE__OPENAI_BASE_URL (e.g. http://host:8000/v1)")
        key = self.settings.engine.openai_api_key
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=_TIMEOUT,
                                         headers={"Authorization": f"Bearer {key}"})
        try:
            response = await self._client.get("/models")
            response.raise_for_status()
            models = response.json()["data"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            await self.close()
            raise BackendError(f"OpenAI-compatible server at {self.base_url} is not usable: "
                               f"GET /models failed ({type(exc).__name__}: {exc})") from exc
        self._pick_models(models)
        default = self.settings.engine.adapter
        if default and default not in self._adapters:
            await self.close()
            raise BackendError(f"ASSISTANT_ENGINE__ADAPTER={default!r} is not served by {self.base_url}; "
                               f"it serves: {self._adapters or 'no adapters'}")
        self._tokenizer = self._load_tokenizer()

    def _pick_models(self, models: list[dict[str, Any]]) -> None:
        ids = [m["id"] for m in models]
        if not ids:
            raise BackendError(f"{self.base_url}/models lists no models")
        configured = self.settings.engine.chat_model
        base = configured if configured in ids else next((m["id"] for m in models if not m.get("parent")), ids[0])
        self.model_id = base
        has_parents = any("parent" in m for m in models)
        self._adapters = sorted(m["id"] for m in models
                                if m["id"] != base and (m.get("parent") == base or not has_parents))
        served = next(m for m in models if m["id"] == base)
        if isinstance(served.get("max_model_len"), int):
            self.max_context_tokens = min(self.max_context_tokens, served["max_model_len"])

    def _load_tokenizer(self) -> Any:
        """The served model's tokenizer when it is on this machine (a local folder or the HF cache), else None."""
        from transformers import AutoTokenizer

        for spec in dict.fromkeys(s for s in (self.model_id, self.settings.engine.chat_model) if s):
            try:
                ref = resolve_chat_model(spec)
                if ref.is_gguf:
                    return AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file)
                return AutoTokenizer.from_pretrained(ref.path, local_files_only=True)
            except (ModelNotFound, OSError, ValueError):
                continue
        return None

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- protocol ----------------------------------------------------------------------------
    def adapters(self) -> list[str]:
        return list(self._adapters)

    def queue_depth(self) -> int:
        return max(0, self._inflight - self.max_batch_size)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        if self._tokenizer is not None:
            return len(prompt_ids(self._tokenizer, messages))
        # Byte-level BPE vocabularies average well over 3 bytes a token on prose: this over-counts.
        return sum(len(m["content"].encode()) // 3 + 4 for m in messages) + 2

    def _payload(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        if self._client is None:
            raise BackendError("backend not started")
        sampling = request.sampling
        sampling.validate()
        adapter = request.adapter or self.settings.engine.adapter or None
        if adapter and adapter not in self._adapters:
            raise AdapterNotFound(f"adapter {adapter!r} is not served by {self.base_url}; "
                                  f"available: {self._adapters or 'none'}")
        if self._inflight >= self.max_batch_size + self.queue_size:
            raise QueueFull("generation queue is full")
        payload: dict[str, Any] = {
            "model": adapter or self.model_id,
            "messages": request.messages,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "stream": stream,
        }
        if sampling.stop:
            payload["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            payload["seed"] = sampling.seed
        if sampling.repetition_penalty != 1.0:  # vLLM's and llama.cpp's servers take it; sent only when set
            payload["repetition_penalty"] = sampling.repetition_penalty
        return payload

    async def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        body = (await response.aread()).decode(errors="replace")
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = body[:300]
        raise BackendError(f"{self.base_url} answered HTTP {response.status_code}: {message}")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        payload = self._payload(request, stream=True)
        self._inflight += 1
        try:
            async with self._client.stream("POST", "/chat/completions", json=payload) as response:
                await self._raise_for(response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    chunk = json.loads(data)
                    if "error" in chunk:
                        raise BackendError(f"{self.base_url} stream error: {chunk['error']}")
                    for choice in chunk.get("choices", []):
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            yield piece
        except httpx.HTTPError as exc:
            raise BackendError(f"request to {self.base_url} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._inflight -= 1

    async def generate(self, request: GenerationRequest) -> Generation:
        payload = self._payload(request, stream=False)
        self._inflight += 1
        try:
            response = await self._client.post("/chat/completions", json=payload)
            await self._raise_for(response)
            body = response.json()
        except httpx.HTTPError as exc:
            raise BackendError(f"request to {self.base_url} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._inflight -= 1
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        return Generation(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason") or "stop",
        )
