"""The embedded transformers backend with the real default model: batched decoding, cancellation, back-pressure.

One backend per module (loads in seconds). Its worker thread is loop-independent, so each test drives it
with its own asyncio.run. Torch runs one thread here: the CI machine is shared, and oversubscribed
OpenMP threads make timings meaningless; batching's gain (one weight read per step for all rows) does
not depend on the thread count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.engine.backends import BackendError, GenerationRequest, SamplingParams
from assistant.engine.backends.transformers import TransformersBackend
from assistant.engine.settings import Settings
from tests.assistant.engine.backends.streams import collect, flood

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

QUESTIONS = [
    "How long do refunds take after my return reaches the warehouse?",
    "Can I change the delivery address of an order that is already packed?",
    "My tent pole snapped on the first trip. What are my options?",
    "Do you ship camping gas to the Scottish Highlands?",
    "How do I track my parcel?",
    "What does the two-year guarantee cover?",
    "Can I pay with a gift card and a credit card together?",
    "Is there a student discount on hiking boots?",
]


def _messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are the support assistant of Northwind Outfitters. Be brief."},
            {"role": "user", "content": question}]


def _request(question: str, max_tokens: int = 40, **sampling: object) -> GenerationRequest:
    return GenerationRequest(messages=_messages(question), sampling=SamplingParams(max_tokens=max_tokens, **sampling))


def _backend(model_cache_dir: Path, tmp_path: Path, adapters_dir: Path | None = None,
             **limits: int) -> TransformersBackend:
    """A started backend on 1 thread; `limits` replace its serving limits (max_batch_size, queue_size)."""
    settings = Settings(data_dir=tmp_path, model_cache_dir=model_cache_dir,
                        engine={"backend": "transformers", "adapters_dir": adapters_dir or tmp_path / "none"})
    backend = TransformersBackend(settings)
    backend.threads = 1
    for name, value in limits.items():
        assert hasattr(backend, name), name
        setattr(backend, name, value)
    asyncio.run(backend.start())
    return backend


@pytest.fixture(scope="module")
def backend(model_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersBackend]:
    backend = _backend(model_cache_dir, tmp_path_factory.mktemp("tf"), max_batch_size=8, queue_size=16)
    yield backend
    asyncio.run(backend.close())


@pytest.fixture(scope="module")
def alone(backend: TransformersBackend) -> dict[str, object]:
    """Each question answered on its own (batch of one), with the wall time of the whole sequential run."""
    async def run() -> dict[str, object]:
        await backend.generate(_request(QUESTIONS[0], max_tokens=4))  # warm-up
        start = time.perf_counter()
        answers = {q: await backend.generate(_request(q)) for q in QUESTIONS}
        return {"answers": answers, "seconds": time.perf_counter() - start}

    return asyncio.run(run())


def test_eight_concurrent_streams_match_their_sequential_answers_and_run_faster(
        backend: TransformersBackend, alone: dict) -> None:
    widest = 0

    async def watch() -> None:
        nonlocal widest
        while True:
            widest = max(widest, backend.active())
            await asyncio.sleep(0.02)

    async def run() -> tuple[list[str], float]:
        watcher = asyncio.create_task(watch())
        start = time.perf_counter()
        texts = await asyncio.gather(*(collect(backend, _request(q)) for q in QUESTIONS))
        seconds = time.perf_counter() - start
        watcher.cancel()
        return list(texts), seconds

    texts, batched_seconds = asyncio.run(run())
    answers = alone["answers"]
    assert widest >= 4, f"the worker never decoded more than {widest} rows together"
    assert texts == [answers[q].text for q in QUESTIONS]  # greedy fp32: token-exact alone and batched
    assert all(answers[q].completion_tokens > 10 for q in QUESTIONS)
    speedup = alone["seconds"] / batched_seconds
    assert speedup > 1.5, f"8 batched chats only {speedup:.2f}x faster than one after another"


def test_generate_reports_token_counts_per_request(backend: TransformersBackend, alone: dict) -> None:
    async def run() -> list:
        return await asyncio.gather(*(backend.generate(_request(q, max_tokens=12)) for q in QUESTIONS[:3]))

    for question, got in zip(QUESTIONS[:3], asyncio.run(run()), strict=True):
        assert got.prompt_tokens == backend.count_tokens(_messages(question))
        assert got.completion_tokens == 12 and got.finish_reason == "length"
        assert alone["answers"][question].text.startswith(got.text)


def test_cancelling_one_stream_does_not_disturb_the_others(backend: TransformersBackend, alone: dict) -> None:
    async def run() -> list[str]:
        return await asyncio.gather(*(collect(backend, _request(q), stop_after=2 if i == 1 else None)
                                      for i, q in enumerate(QUESTIONS[:4])))

    texts = asyncio.run(run())
    full = [alone["answers"][q].text for q in QUESTIONS[:4]]
    assert texts[0] == full[0] and texts[2:] == full[2:]
    assert full[1].startswith(texts[1]) and len(texts[1]) < len(full[1])
    time.sleep(0.5)  # the worker drops the cancelled row at its next step
    assert backend.active() == 0 and backend.queue_depth() == 0


def test_sampling_and_stop_strings_are_per_row(backend: TransformersBackend, alone: dict) -> None:
    greedy = alone["answers"][QUESTIONS[0]].text
    words = greedy.split()
    stop = " " + words[3]
    mixed = [_request(QUESTIONS[0]), _request(QUESTIONS[0], temperature=0.9, top_p=0.9, seed=7),
             _request(QUESTIONS[0], stop=[stop])]

    async def run() -> tuple[list, list]:
        together = await asyncio.gather(*(backend.generate(r) for r in mixed))
        one_by_one = [await backend.generate(r) for r in mixed]
        return list(together), one_by_one

    together, one_by_one = asyncio.run(run())
    assert [g.text for g in together] == [g.text for g in one_by_one]
    assert together[0].text == greedy
    assert together[1].text != greedy  # seeded sampling, reproducible in and out of a batch
    assert together[2].text == greedy[: greedy.find(stop)] and together[2].finish_reason == "stop"


def test_prompt_over_the_context_is_refused(backend: TransformersBackend) -> None:
    long = GenerationRequest(messages=_messages("refund " * 3000))
    with pytest.raises(BackendError, match="exceeds the context"):
        asyncio.run(backend.generate(long))


def test_a_full_queue_raises_queue_full_and_the_admitted_requests_finish(
        model_cache_dir: Path, tmp_path: Path) -> None:
    small = _backend(model_cache_dir, tmp_path, max_batch_size=1, queue_size=1)
    refused, served = flood(small, [_request(q, max_tokens=8) for q in QUESTIONS[:5]])
    assert refused and served
    assert all(r.completion_tokens == 8 for r in served)


def _random_adapter(base: Path, target: Path) -> None:
    """A rank-8 LoRA with random B and a large scale, so that it visibly changes greedy output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(target)


def test_a_batch_runs_one_adapter_and_mixed_requests_get_their_own_answers(
        model_cache_dir: Path, tmp_path: Path) -> None:
    from assistant.engine.models import hf_folder, resolve_chat_model

    _random_adapter(hf_folder(resolve_chat_model(""), model_cache_dir), tmp_path / "adapters" / "noisy")
    served = _backend(model_cache_dir, tmp_path, adapters_dir=tmp_path / "adapters", max_batch_size=4)
    mixed = [GenerationRequest(messages=_messages(q), adapter=a, sampling=SamplingParams(max_tokens=12))
             for q in QUESTIONS[:2] for a in (None, "noisy")]

    async def run() -> tuple[list, list]:
        one_by_one = [(await served.generate(r)).text for r in mixed]
        together = [g.text for g in await asyncio.gather(*(served.generate(r) for r in mixed))]
        return one_by_one, together

    try:
        one_by_one, together = asyncio.run(run())
    finally:
        asyncio.run(served.close())
    assert served.adapters() == ["noisy"]
    assert one_by_one[0] != one_by_one[1] and one_by_one[2] != one_by_one[3]
    assert together == one_by_one
