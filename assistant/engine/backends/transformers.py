"""Transformers backend: the chat model in-process on transformers' own `generate`, CPU or GPU, with LoRA adapters.

`auto` picks it when LoRA adapters are registered (the onnx engine serves none) and on a GPU without
vLLM. `generate` serves one chat at a time: the others wait in the bounded queue (local.py; full ->
QueueFull -> 503 + Retry-After). transformers' continuous batching (`generate_batch`, paged attention)
takes no per-request temperature or seed, hence plain `generate`; for many chats at once use vLLM.
A streamer hands the decoded text to InFlight as `generate` produces it; a stopping criterion ends
`generate` when the consumer left or a stop string ended the answer. Sampling, repetition penalty,
no-repeat n-grams, the end-of-sequence token and the token budget are `generate`'s own.
"""

from __future__ import annotations

import os
from typing import Any

from assistant.engine.backends import base
from assistant.engine.backends.base import AdapterNotFound, BackendError
from assistant.engine.backends.inflight import InFlight
from assistant.engine.backends.local import LocalBackend, as_list
from assistant.engine.models import ModelNotFound, hf_folder


class TransformersBackend(LocalBackend):
    name = "transformers"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_batch_size = 1  # generate() serves one chat at a time
        self._model: Any = None
        self._active_adapter: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
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
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype_name))
        except (OSError, ValueError, ModelNotFound) as exc:
            raise BackendError(f"ASSISTANT_ENGINE__CHAT_MODEL={self.settings.engine.chat_model or '(embedded)'}: "
                               f"backend 'transformers' cannot load it: {exc}") from exc
        self._model = model.to(device).eval()
        self._device = device
        self._eos = sorted(set(as_list(model.generation_config.eos_token_id) + as_list(tokenizer.eos_token_id)))
        self._discover_adapters()
        if self.settings.engine.adapter:
            try:
                self._ensure_adapter(self.settings.engine.adapter)
            except AdapterNotFound as exc:
                raise BackendError(f"ASSISTANT_ENGINE__ADAPTER: {exc}") from exc
        self._tokenizer = tokenizer

    def _discover_adapters(self) -> None:
        root = self.settings.engine.adapters_dir
        if root and os.path.isdir(root):
            for name in sorted(os.listdir(root)):
                if os.path.exists(os.path.join(root, name, "adapter_config.json")):
                    self._adapters[name] = os.path.join(root, name)

    def _ensure_adapter(self, name: str | None) -> None:
        """Switch the model to adapter `name` (None = base), on the worker thread between chats."""
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

    # -- worker ------------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            newcomers = self._wait_for_work(0)
            if newcomers is None:
                return
            for chat in newcomers:
                try:
                    self._generate(chat)
                except Exception as exc:  # noqa: BLE001 - surfaced to the awaiting coroutine
                    chat.fail(exc)
            self._ran(0)

    def _generate(self, chat: InFlight) -> None:
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList, TextStreamer

        class _Streamer(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    chat.feed(text)

        class _Leave(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), chat.cancelled.is_set() or chat.stopped, dtype=torch.bool)

        self._ensure_adapter(chat.request.adapter or self.settings.engine.adapter or None)
        sampling = chat.request.sampling
        config = GenerationConfig(
            max_new_tokens=chat.max_new, do_sample=sampling.temperature > 0, eos_token_id=self._eos,
            pad_token_id=self._eos[0] if self._eos else None, repetition_penalty=sampling.repetition_penalty,
            no_repeat_ngram_size=sampling.no_repeat_ngram_size,
            **({"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
               if sampling.temperature > 0 else {}),
        )
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        ids = torch.tensor([chat.prompt], device=self._device)
        streamer = _Streamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        with torch.inference_mode():
            out = self._model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config,
                                       streamer=streamer, stopping_criteria=StoppingCriteriaList([_Leave()]))
        new = out[0, len(chat.prompt):].tolist()
        if chat.cancelled.is_set() and not chat.stopped:
            reason = "cancelled"
        elif new and new[-1] in self._eos:
            reason = "stop"
        else:
            reason = "length" if len(new) >= chat.max_new else "stop"
        chat.finish(reason, len(new) - (1 if new and new[-1] in self._eos else 0))
