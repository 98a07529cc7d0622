"""The chat model being served, as routes, CLI and console see it: `Assistant.model`, the one door to the engine.

    assistant.model.id, assistant.model.engine              # "SmolLM2-135M-Instruct", "onnx"
    assistant.model.count_tokens([{"role": "user", "content": question}])
    adapter, name = assistant.model.resolve("support-lora", site.adapter)   # AdapterNotFound if not served
    if assistant.model.queue_full(): ...                    # answer 503 before streaming starts

What it tells about the model: its name and engine, its context window, how many tokens a prompt or a
text takes under its tokenizer, the LoRA adapters it serves, and how many requests wait for it. Callers
never hold the backend itself; this is the only place that knows what a backend may lack.
"""

from __future__ import annotations

from assistant.engine.backends import QUEUE_SIZE, Backend
from assistant.engine.errors import AdapterNotFound


class ServedModel:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @property
    def id(self) -> str:
        """The base model's id (what replies report as their `model`)."""
        return self._backend.model_id

    @property
    def engine(self) -> str:
        """The generation engine serving it: onnx, transformers, vllm, openai or fake."""
        return self._backend.name

    @property
    def context_window(self) -> int:
        """Prompt plus answer budget, in tokens."""
        return self._backend.max_context_tokens

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt length in tokens after the model's chat template."""
        return self._backend.count_tokens(messages)

    def text_tokens(self, text: str) -> int:
        """Tokens of `text` alone under the model's tokenizer (the chat template's overhead subtracted)."""
        if not text:
            return 0
        empty = self.count_tokens([{"role": "user", "content": ""}])
        return max(0, self.count_tokens([{"role": "user", "content": text}]) - empty)

    def adapters(self) -> list[str]:
        """The LoRA adapters the engine has loaded."""
        return list(self._backend.adapters())

    def names(self) -> list[str]:
        """What a request may name as its model: the base model, then each adapter."""
        return [self.id, *self.adapters()]

    def resolve(self, requested: str, site_adapter: str | None = None) -> tuple[str | None, str]:
        """(adapter to answer with, model name to report) for a request naming `requested`.

        The base model's id answers with the site's default adapter, if it has one; an adapter's name with that
        adapter. AdapterNotFound when `requested` is neither, or the site's adapter is not loaded.
        """
        adapters = self.adapters()
        if requested == self.id:
            if site_adapter and site_adapter not in adapters:
                raise AdapterNotFound(f"this site answers with adapter {site_adapter!r}, which the engine has not "
                                      "loaded")
            return site_adapter or None, site_adapter or self.id
        if requested in adapters:
            return requested, requested
        raise AdapterNotFound(f"The model '{requested}' does not exist; this server serves: "
                              f"{', '.join(self.names())}.")

    def queue_depth(self) -> int:
        """Requests waiting for the engine (0 for an engine that does not queue)."""
        depth = getattr(self._backend, "queue_depth", None)
        return int(depth()) if depth is not None else 0

    @property
    def queue_size(self) -> int:
        """Waiting requests beyond which new turns are refused (the engine's own limit, else QUEUE_SIZE)."""
        return int(getattr(self._backend, "queue_size", QUEUE_SIZE))

    def queue_full(self) -> bool:
        """True when a new turn should be refused now (503 + Retry-After) rather than queued."""
        return self.queue_depth() >= self.queue_size
