"""ONNX Runtime backend (`backend=onnx`): the chat model with int8 weights and activations on CPU, batched.

`auto` picks it on a CPU when no LoRA adapter is registered (backends/__init__.py:resolve_backend_name).
Decode on a CPU is bound by the bytes of weights read per token: the transformers backend reads
fp32 weights (538 MB per token for SmolLM2-135M), this one int8 (~140-150 MB), so one stream decodes
3.8x faster on one core (43.1 vs 11.2 tokens/s). Steps of 1-2 chats run on decode.onnx, the GGUF's own
4-bit blocks (104 MB a token; assistant/engine/decode_model.py): one stream then decodes at 1.08x
llama.cpp's best on two cores (median of 5 interleaved rounds; docs/bench/serving-decode-rounds.md). Prefill is arithmetic-bound: the default w8a8 model also
quantises activations (SmoothQuant, per-row scales; assistant/engine/quantization.py) and prefills ~1.8x
faster than int8 weight-only. The model folder is built once from the chat model's HF folder by
onnxruntime-genai's model builder (assistant/engine/models.py:onnx_folder, `ONNX_PRECISION`).

Continuous batching: one worker thread admits waiting chats between decode steps (prefilled one by one,
up to `prefill_tokens` per step) and decodes every running chat (up to `max_batch_size`) in one
model call per token, since one call reads the weights once for all rows. Each chat computes exactly
what it would alone (tested). The model and its KV cache live in a child process (onnx_process.py and
onnx_session.py: onnxruntime holds the GIL during model calls, which would stall the server's event
loop). Everything else is shared with the transformers backend so both behave the same: the HF tokenizer
and chat template, sampling (temperature / top_p / seed on a torch.Generator), stop strings with
hold-back, the bounded queue (QueueFull -> 503) and cancellation when the consumer stops iterating.

A model process that dies fails each request with a BackendError naming its exit code; restart the
server. LoRA adapters are not served: an adapter request gets AdapterNotFound, and `engine.adapter`
fails at start-up.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import threading
from typing import Any

from assistant.engine.backends import base
from assistant.engine.backends.base import BackendError
from assistant.engine.backends.onnx_process import ModelProcess
from assistant.engine.backends.transformers import TransformersBackend, _as_list
from assistant.engine.models import ModelNotFound, hf_folder, onnx_folder

# w8a8: SmoothQuant-scaled int8 weights and activations, prefill ~1.8x faster than int8 weight-only at +2.0%
# perplexity vs fp32 (int8 +0.5%; int4 decoded faster but raised it 28%): docs/bench/quantization.md
ONNX_PRECISION = "w8a8"
# with w8a8 from a Q4_1 GGUF, steps of 1-2 chats decode on the GGUF's own 4-bit blocks (decode.onnx): 0.80-0.86x
# w8a8's step time there, perplexity +0.4% vs fp32 (docs/benchmarks.md, "Where it is faster"). False: w8a8 for
# every step, so a chat's tokens never depend on how many chats decode with it
ONNX_DECODE_MODEL = True


class OnnxBackend(TransformersBackend):
    name = "onnx"
    # Prompt tokens prefilled between two decode steps: ~1 s of prefill on 2 cores, the longest the running
    # chats stall while newcomers join (prompts are prefilled one by one, so this bounds their sum)
    prefill_tokens = 1024

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.precision = ONNX_PRECISION
        self.decode_model = ONNX_DECODE_MODEL
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
        if base.DEVICE == "cuda":
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
        self._model = ModelProcess(str(self.folder), self.threads, self.max_batch_size, self.decode_model)

    async def close(self) -> None:
        await super().close()
        if self._model is not None:
            await asyncio.to_thread(self._model.close)

    def _run(self) -> None:
        """Continuous batching: newcomers are prefilled between decode steps; every running chat decodes together."""
        running: dict[int, Any] = {}
        ids = itertools.count()
        while True:
            with self._wake:
                while not self._waiting and not running and not self._closing:
                    self._wake.wait()
                if self._closing:
                    closed = BackendError("backend closed")
                    for seq in [*running.values(), *self._waiting]:
                        seq.fail(closed)
                    self._waiting.clear()
                    return
                newcomers = self._take(list(running.values()))
            for seq in newcomers:
                sid = next(ids)
                try:
                    self._next(seq, self._model.add(sid, seq.prompt))
                except BaseException as exc:  # noqa: BLE001 - surfaced to the awaiting coroutine
                    seq.fail(exc)
                    continue
                running[sid] = seq
            self._settle(running)
            if running:
                try:
                    logits = self._model.step({sid: seq.pending for sid, seq in running.items()})
                    for sid, seq in running.items():
                        self._next(seq, logits[sid])
                    self._settle(running)
                except BaseException as exc:  # noqa: BLE001 - surfaced to the awaiting coroutines
                    for seq in running.values():
                        seq.fail(exc)
                    running.clear()
            self._running = len(running)

    def _next(self, seq: Any, logits: Any) -> None:
        """Sample the chat's next token from its logits (its own temperature, top_p and seed) and take it."""
        sampling = seq.request.sampling
        if sampling.temperature > 0:
            import torch

            from assistant.engine.backends.batcher import _sample_one

            token = _sample_one(torch.from_numpy(logits), sampling.temperature, sampling.top_p, seq.generator)
        else:
            token = int(logits.argmax())
        seq.accept(token, self._eos, self._tokenizer)

    def _settle(self, running: dict[int, Any]) -> None:
        """Finished and cancelled chats leave the batch (the model process parks their cache)."""
        for sid, seq in list(running.items()):
            if seq.cancelled.is_set() and not seq.done:
                seq.done, seq.finish_reason, seq.completion_tokens = True, "cancelled", len(seq.generated)
            if seq.done:
                del running[sid]
                self._model.drop(sid)
