"""OpenAIBackend against a real HTTP peer: a small FastAPI app speaking vLLM's /v1 dialect, under uvicorn.

The peer streams a fixed answer word by word, lists a base model plus one LoRA adapter the way
`vllm serve --lora-modules` does, answers unknown models with vLLM's 404 error object, and records
whether a stream was abandoned by the client (that is how vLLM notices a cancelled request).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from assistant.engine.backends import AdapterNotFound, BackendError, GenerationRequest, SamplingParams
from assistant.engine.backends.openai import OpenAIBackend
from assistant.engine.models import hf_folder, resolve_chat_model
from assistant.engine.settings import Settings
from tests.support import free_port

BASE = "acme/support-135m"
ANSWER = "Refunds take five working days once the parcel is back. [1]"
QUESTION = [{"role": "user", "content": "How long do refunds take?"}]


class Peer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.abandoned = threading.Event()
        self.delay = 0.0
        self.app = FastAPI()
        self.app.get("/v1/models")(self.models)
        self.app.post("/v1/chat/completions")(self.chat)

    async def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": BASE, "object": "model", "max_model_len": 1024, "parent": None},
            {"id": "billing-tone", "object": "model", "parent": BASE},
        ]}

    async def chat(self, body: dict[str, Any]) -> Any:
        self.requests.append(body)
        if body["model"] not in (BASE, "billing-tone"):
            return JSONResponse({"error": {"message": f"The model `{body['model']}` does not exist.",
                                           "type": "NotFoundError", "code": 404}}, status_code=404)
        text = ANSWER if body["model"] == BASE else ANSWER.upper()
        words = text.split(" ")[: body["max_tokens"]]
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        if not body.get("stream"):
            return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": len(pieces)}}
        return StreamingResponse(self._sse(pieces), media_type="text/event-stream")

    async def _sse(self, pieces: list[str]) -> AsyncIterator[str]:
        finished = False
        try:
            for piece in pieces:
                await asyncio.sleep(self.delay)
                yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': piece}}]})}\n\n"
            yield "data: [DONE]\n\n"
            finished = True
        finally:
            if not finished:
                self.abandoned.set()


@pytest.fixture(scope="module")
def peer() -> Iterator[tuple[Peer, str]]:
    peer = Peer()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(peer.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "peer server did not start"
    yield peer, f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


def _backend(url: str, **engine: Any) -> OpenAIBackend:
    return OpenAIBackend(Settings(engine={"backend": "openai", "openai_base_url": url, **engine}))


def _request(**kw: Any) -> GenerationRequest:
    adapter = kw.pop("adapter", None)
    return GenerationRequest(messages=QUESTION, sampling=SamplingParams(**kw), adapter=adapter)


def test_start_reads_the_base_model_adapters_and_context(peer: tuple[Peer, str]) -> None:
    backend = _backend(peer[1])
    assert backend.max_context_tokens == 2048  # ours (base.MAX_CONTEXT_TOKENS)
    asyncio.run(backend.start())
    assert backend.model_id == BASE
    assert backend.adapters() == ["billing-tone"]
    assert backend.max_context_tokens == 1024  # the server's limit is tighter than ours


def test_stream_joins_to_generate_and_sends_the_sampling_settings(peer: tuple[Peer, str]) -> None:
    server, url = peer

    async def run() -> tuple[list[str], Any]:
        backend = _backend(url)
        await backend.start()
        request = _request(max_tokens=50, temperature=0.3, top_p=0.9, stop=["\n"], seed=7)
        pieces = [piece async for piece in backend.stream(request)]
        result = await backend.generate(request)
        await backend.close()
        return pieces, result

    pieces, result = asyncio.run(run())
    assert len(pieces) == len(ANSWER.split(" "))
    assert "".join(pieces) == result.text == ANSWER
    assert (result.prompt_tokens, result.completion_tokens) == (12, len(pieces))
    sent = server.requests[-1]
    assert sent["model"] == BASE and sent["messages"] == QUESTION
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["stop"], sent["seed"]) == \
        (0.3, 0.9, 50, ["\n"], 7)


def test_an_adapter_is_requested_by_its_model_name(peer: tuple[Peer, str]) -> None:
    async def run() -> str:
        backend = _backend(peer[1])
        await backend.start()
        return (await backend.generate(_request(adapter="billing-tone"))).text

    assert asyncio.run(run()) == ANSWER.upper()
    assert peer[0].requests[-1]["model"] == "billing-tone"


def test_unknown_adapter_fails_before_any_request(peer: tuple[Peer, str]) -> None:
    server, url = peer
    backend = _backend(url)
    asyncio.run(backend.start())
    sent = len(server.requests)
    with pytest.raises(AdapterNotFound, match="nope"):
        asyncio.run(backend.generate(_request(adapter="nope")))
    assert len(server.requests) == sent


def test_a_default_adapter_the_server_does_not_serve_fails_at_start_naming_the_setting(
        peer: tuple[Peer, str]) -> None:
    _, url = peer
    with pytest.raises(BackendError, match="ASSISTANT_ENGINE__ADAPTER='nope' is not served"):
        asyncio.run(_backend(url, adapter="nope").start())
    backend = _backend(url, adapter="billing-tone")

    async def start_and_close() -> list[str]:
        await backend.start()  # one the server lists is fine
        await backend.close()
        return backend.adapters()

    assert asyncio.run(start_and_close()) == ["billing-tone"]


def test_server_errors_surface_with_the_servers_message(peer: tuple[Peer, str]) -> None:
    backend = _backend(peer[1], chat_model="ghost-model")

    async def run() -> None:
        await backend.start()
        backend.model_id = "ghost-model"  # as if the server dropped the model after start-up
        await backend.generate(_request())

    with pytest.raises(BackendError, match="HTTP 404: The model `ghost-model` does not exist"):
        asyncio.run(run())


def test_closing_the_stream_drops_the_connection(peer: tuple[Peer, str]) -> None:
    server, url = peer
    server.abandoned.clear()
    server.delay = 0.2

    async def run() -> list[str]:
        backend = _backend(url)
        await backend.start()
        stream = backend.stream(_request())
        pieces = [await anext(stream)]
        await stream.aclose()
        assert backend.queue_depth() == 0 and backend._inflight == 0
        return pieces

    try:
        assert asyncio.run(run()) == ["Refunds"]
        assert server.abandoned.wait(5), "the peer kept streaming after the client left"
    finally:
        server.delay = 0.0


def test_unreachable_or_missing_server_fails_at_start() -> None:
    with pytest.raises(BackendError, match="OPENAI_BASE_URL"):
        asyncio.run(_backend("").start())
    with pytest.raises(BackendError, match=r"not usable: GET /models failed \(ConnectError"):
        asyncio.run(_backend(f"http://127.0.0.1:{free_port()}/v1").start())


def test_token_count_without_a_local_tokenizer_overestimates(peer: tuple[Peer, str]) -> None:
    backend = _backend(peer[1])
    asyncio.run(backend.start())
    assert backend._tokenizer is None  # "acme/support-135m" is not on this machine
    assert backend.count_tokens(QUESTION) >= len(QUESTION[0]["content"].split())


def test_token_count_uses_the_local_tokenizer_of_the_configured_model(peer: tuple[Peer, str],
                                                                     model_cache_dir: Path) -> None:
    from transformers import AutoTokenizer

    folder = hf_folder(resolve_chat_model(""), model_cache_dir)
    backend = _backend(peer[1], chat_model=str(folder))
    asyncio.run(backend.start())
    expected = AutoTokenizer.from_pretrained(folder).apply_chat_template(QUESTION, add_generation_prompt=True,
                                                                       tokenize=True)
    if not isinstance(expected, list):
        expected = expected["input_ids"]
    assert backend.model_id == BASE  # the configured folder is not served, so the server's base is used
    assert backend.count_tokens(QUESTION) == len(expected)
