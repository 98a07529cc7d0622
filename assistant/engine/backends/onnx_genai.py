"""ONNX Runtime GenAI backend (`backend=onnx`): the chat model with int8 weights (and activations) on CPU.

`auto` picks it on a CPU when no LoRA adapter is registered (backends/__init__.py:resolve_backend_name).
Decode on a CPU is bound by the bytes of weights read per token: the transformers backend reads
fp32 weights (538 MB per token for SmolLM2-135M), this one int8 (~140-150 MB), so one stream decodes
3.8x faster on one core (43.1 vs 11.2 tokens/s) and at parity with llama.cpp's best with two (0.98x-1.43x
over three runs; docs/benchmarks.md, "Serving"). Prefill is arithmetic-bound: the default w8a8 model also
quantises activations (SmoothQuant, assistant/engine/quantization.py) and prefills ~1.8x faster than int8
weight-only. The model folder is built once from the chat model's HF folder
(assistant/engine/models.py:onnx_folder, `engine.onnx_precision`).

onnxruntime-genai runs the model and keeps the KV cache, in a child process (onnx_process.py: it holds
the GIL during model calls, which would stall the server's event loop); everything else is shared with the
transformers backend so both behave the same: the HF tokenizer and chat template, sampling
(temperature / top_p / seed on a torch.Generator), stop strings with hold-back, the bounded queue
(QueueFull -> 503) and cancellation when the consumer stops iterating.

One worker thread decodes one chat at a time; the others wait in the queue. onnxruntime-genai's
continuous batching (its dynamic-batching Engine) needs a paged-KV model, which its CPU builder does
not produce; its static Engine ran 4 short chats at 48 tokens/s in total where one stream alone
decoded 67 (quick checks while writing this backend), so one chat at a time, and a queue, on CPU.
A model process that dies fails each request with a BackendError naming its exit code; restart the
server. LoRA adapters are not served: an adapter request gets AdapterNotFound, and `engine.adapter`
fails at start-up.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
from typing import Any

from assistant.engine.backends.base import BackendError
from assistant.engine.backends.onnx_process import ModelProcess
from assistant.engine.backends.transformers import TransformersBackend, _as_list
from assistant.engine.models import ModelNotFound, hf_folder, onnx_folder


class OnnxBackend(TransformersBackend):
    name = "onnx"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.precision = settings.engine.onnx_precision
        self.folder: Any = None

    async def start(self) -> None:
        if self.settings.engine.adapter:
            raise BackendError("backend 'onnx' serves the base model only; LoRA adapters need backend "
                               "transformers or vllm (unset ASSISTANT_ENGINE__ADAPTER)")
        await asyncio.to_thread(self._load)
        self._worker = threading.Thread(target=self._run, name="onnx-generate", daemon=True)
        self._worker.start()

    def _load(self) -> None:
        if importlib.util.find_spec("onnxruntime_genai") is None:
            raise BackendError("backend 'onnx' needs onnxruntime-genai and onnx-ir (pip install onnxruntime-genai "
                               "onnx-ir)")
        if self.settings.engine.device == "cuda":
            raise BackendError("backend 'onnx' runs on CPU here; use backend vllm or transformers on a GPU")
        from transformers import AutoTokenizer

        try:
            source = hf_folder(self.ref, self.settings.cache_dir)
            self.folder = onnx_folder(self.ref, self.settings.cache_dir, self.precision)
        except (OSError, ValueError, ModelNotFound) as exc:
            raise BackendError(f"cannot load chat model {self.ref.path} for backend 'onnx': {exc}") from exc
        self._tokenizer = AutoTokenizer.from_pretrained(source)
        genai = json.loads((self.folder / "genai_config.json").read_text())["model"]
        self._eos = set(_as_list(genai.get("eos_token_id")) + _as_list(self._tokenizer.eos_token_id))
        self._model = ModelProcess(str(self.folder), self.settings.engine.threads)

    async def close(self) -> None:
        await super().close()
        if self._model is not None:
            await asyncio.to_thread(self._model.close)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if self._closing:
                    closed = BackendError("backend closed")
                    while self._waiting:
                        self._waiting.popleft().fail(closed)
                    return
                seq = self._waiting.popleft()
            if seq.cancelled.is_set():
                continue
            self._running = 1
            try:
                self._decode(seq)
            except BaseException as exc:  # noqa: BLE001 - surfaced to the awaiting coroutine
                seq.fail(exc)
            self._running = 0

    def _decode(self, seq: Any) -> None:
        """Prefill the prompt, then one model call per token until eos, a stop string, max_new or cancel."""
        import torch

        from assistant.engine.backends.batcher import _sample_one

        logits = self._model.start(seq.prompt, len(seq.prompt) + seq.max_new)
        sampling = seq.request.sampling
        while not seq.done:
            if self._closing:
                raise BackendError("backend closed")
            if seq.cancelled.is_set():
                seq.done, seq.finish_reason, seq.completion_tokens = True, "cancelled", len(seq.generated)
                return
            if sampling.temperature > 0:
                token = _sample_one(torch.from_numpy(logits), sampling.temperature, sampling.top_p, seq.generator)
            else:
                token = int(logits.argmax())
            seq.accept(token, self._eos, self._tokenizer)
            if not seq.done:
                logits = self._model.append(token)
