"""ONNX Runtime GenAI backend (`backend=onnx`): the CPU default, on onnxruntime-genai's own Engine.

`auto` picks it on a CPU when no LoRA adapter is registered (backends/__init__.py:resolve_backend_name).
The model folder is made once by onnxruntime-genai's model builder (8-bit weights; models.onnx_folder).
onnxruntime-genai's `Engine` does the serving: it batches the running chats (a static batch of up to
`max_batch_size` on CPU; its dynamic batching with paged attention is CUDA-only), owns their KV
cache, samples (temperature, top-p, repetition penalty, no-repeat n-grams) and ends a chat at
its end-of-sequence token or token budget. The Engine must be driven from the thread that made it,
so one worker thread owns it: it begins a turn for each newcomer, runs engine steps, turns token
events into text with the engine's own stream decoder and hands them to InFlight, which ends the
answer at a stop string (on CPU the Engine refuses stop strings: they need dynamic batching). A
request's `seed` is not honoured here for the same reason (like OpenAI's, it is best effort).
LoRA adapters are not served here: `engine.adapter` fails at start-up, and `auto` picks transformers
when adapters are registered.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from typing import Any

from assistant.engine.backends import base
from assistant.engine.backends.base import BackendError
from assistant.engine.backends.inflight import InFlight
from assistant.engine.backends.local import LocalBackend
from assistant.engine.models import ModelNotFound, hf_folder, onnx_folder

EVENTS_PER_STEP = 256  # capacity of the engine's event buffer: one token event per running chat a step, and more


@dataclass
class _Turn:
    request: Any  # onnxruntime_genai.Request
    turn: int
    chat: InFlight
    decoder: Any  # onnxruntime_genai.TokenizerStream
    cancelling: bool = False
    tokens: int = 0


class OnnxBackend(LocalBackend):
    name = "onnx"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.folder: Any = None
        self._model: Any = None
        self._og_tokenizer: Any = None

    async def start(self) -> None:
        if self.settings.engine.adapter:
            raise BackendError("ASSISTANT_ENGINE__ADAPTER is set, but backend 'onnx' serves the base model only: "
                               "LoRA adapters need ASSISTANT_ENGINE__BACKEND=transformers or vllm")
        await super().start()

    def _load(self) -> None:
        if importlib.util.find_spec("onnxruntime_genai") is None:
            raise BackendError("backend 'onnx' needs onnxruntime-genai (pip install onnxruntime-genai)")
        if base.DEVICE == "cuda":
            raise BackendError("backend 'onnx' runs on CPU here; use backend vllm or transformers on a GPU")
        import onnxruntime_genai as og
        from transformers import AutoTokenizer

        try:
            source = hf_folder(self.ref, self.settings.cache_dir)
            self.folder = onnx_folder(self.ref, self.settings.cache_dir)
            config = og.Config(str(self.folder))
            config.overlay(json.dumps(self._overlay()))
            self._model = og.Model(config)
        except (OSError, ValueError, RuntimeError, ModelNotFound) as exc:
            raise BackendError(f"ASSISTANT_ENGINE__CHAT_MODEL={self.settings.engine.chat_model or '(embedded)'}: "
                               f"backend 'onnx' cannot load it: {exc}") from exc
        self._og_tokenizer = og.Tokenizer(self._model)
        self._tokenizer = AutoTokenizer.from_pretrained(source)

    def _overlay(self) -> dict[str, Any]:
        """genai_config.json overrides: the batch and context limits of base.py, and the thread count."""
        overlay: dict[str, Any] = {
            "engine": {"static_batching": {"max_batch_size": self.max_batch_size}},
            # the KV cache is allocated for max_length tokens per batch slot
            "search": {"max_length": self.max_context_tokens},
        }
        if self.threads:
            overlay["model"] = {"decoder": {"session_options": {"intra_op_num_threads": self.threads}}}
        return overlay

    def _begin(self, engine: Any, chat: InFlight) -> _Turn:
        import numpy as np
        import onnxruntime_genai as og

        sampling = chat.request.sampling
        request = engine.create_request()
        options = og.TurnOptions(request)
        options.set_max_generated_tokens(chat.max_new)
        options.set_do_sample(sampling.temperature > 0)
        if sampling.temperature > 0:
            options.set_temperature(sampling.temperature)
            options.set_top_p(sampling.top_p)
            options.set_top_k(0)  # genai_config's top_k=50 would cut what top_p keeps
        if sampling.repetition_penalty != 1.0:
            options.set_repetition_penalty(sampling.repetition_penalty)
        if sampling.no_repeat_ngram_size:
            options.set_no_repeat_ngram_size(sampling.no_repeat_ngram_size)
        turn = request.begin_turn(np.asarray(chat.prompt, dtype=np.int32), options)
        return _Turn(request, turn, chat, self._og_tokenizer.create_stream())

    def _serve(self) -> None:
        import onnxruntime_genai as og

        engine = og.Engine(self._model)  # on this thread: the Engine may only be driven by its owner thread
        events = engine.create_event_buffer(EVENTS_PER_STEP)
        live: list[_Turn] = []
        while True:
            newcomers = self._wait_for_work(len(live))
            if newcomers is None:
                for item in live:
                    item.chat.fail(BackendError("backend closed"))
                    item.request.close()
                return
            for chat in newcomers:
                try:
                    live.append(self._begin(engine, chat))
                except Exception as exc:  # noqa: BLE001 - surfaced to the awaiting coroutine
                    chat.fail(exc)
            self._ran(len(live))
            for item in live:
                if item.chat.cancelled.is_set() and not item.cancelling:
                    self._cancel(item)
            if not live:
                continue
            if not engine.has_pending_requests():  # the engine holds none of them any more: never wait on them
                for item in live:
                    item.chat.finish("cancelled" if item.cancelling else "stop", item.tokens)
                    item.request.close()
                live.clear()
                self._ran(0)
                continue
            try:
                batch = list(engine.run(events))
            except Exception as exc:  # noqa: BLE001 - every running chat gets the engine's error
                for item in live:
                    item.chat.fail(exc)
                    item.request.close()
                live.clear()
                continue
            for event in batch:
                item = next((x for x in live if x.request == event.request), None)
                if item is None:
                    continue
                self._handle(item, event, og)
                if item.chat.done:
                    item.request.close()
                    live.remove(item)
            self._ran(len(live))

    @staticmethod
    def _cancel(item: _Turn) -> None:
        item.request.cancel_turn(item.turn)
        item.cancelling = True

    def _handle(self, item: _Turn, event: Any, og: Any) -> None:
        flags = event.flags
        if flags & og.EngineEventFlags.TOKEN and not item.cancelling:
            item.tokens += 1
            if item.chat.feed(item.decoder.decode(event.token)):
                self._cancel(item)  # a stop string ended it
        if flags & og.EngineEventFlags.FAILED:
            item.chat.fail(BackendError(f"onnxruntime-genai failed the request: {event.error_code.name}"))
        elif flags & og.EngineEventFlags.TURN_FINISHED:
            reason = event.finish_reason
            if reason in (og.FinishReason.MAX_GENERATED_TOKENS, og.FinishReason.MAX_SESSION_TOKENS):
                item.chat.finish("length", item.tokens)
            elif reason == og.FinishReason.CANCELLED:
                item.chat.finish("cancelled", item.tokens)
            else:
                item.chat.finish("stop", item.tokens)
