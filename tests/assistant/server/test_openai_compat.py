"""The OpenAI-compatible endpoints: shapes and bad input in-process (fake backend), then the real server
with the official `openai` client and LangChain's ChatOpenAI, unmodified, on the real default model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.facade import Assistant
from assistant.engine.models import resolve_chat_model
from assistant.engine.prompt import ECHO_STOPS
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.server.app import create_app
from tests.assistant.server.sites_support import ADMIN, app_client, auth, count_messages, new_site
from tests.support import FakeClassifier, FakeHit, FakeRetriever, running_server

HITS = [FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.9)]
DEFAULT_MODEL = resolve_chat_model("").name
QUESTION = "How long does it take to get my money back after I return something?"
EXTENSION_KEYS = {"conversation_id", "message_id", "route", "intent", "confidence", "sentiment", "template_id",
                  "sources", "handoff", "abstained", "timings"}


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path)
    store = Store(settings.resolved_database_url)
    bot = Assistant(settings, backend=FakeBackend(settings, adapters=["support-lora"]), retriever=FakeRetriever(HITS),
                    understanding=FakeClassifier(), policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=store)
    with TestClient(create_app(settings, assistant=bot)) as c:
        c.bot, c.store = bot, store
        yield c


def ask(text: str = "How long do refunds take?", **extra: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": [{"role": "user", "content": text}], **extra}


def sse_chunks(text: str) -> tuple[list[dict[str, Any]], bool]:
    """(JSON chunks, whether the stream ended with data: [DONE]); SSE comments are skipped."""
    datas = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    return [json.loads(d) for d in datas if d != "[DONE]"], bool(datas) and datas[-1] == "[DONE]"


# -- shapes (fast, fake backend) -------------------------------------------------------------------
def test_json_completion_has_openai_shape_usage_and_extension(client: TestClient) -> None:
    r = client.post("/v1/chat/completions", json=ask())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "fake-model" and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant" and "5 business days" in choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    # the fake backend counts words: the answer "Refunds are paid within 5 business days. [1]" is 8
    assert usage["completion_tokens"] == 8
    # the whole prompt the engine built (rules + sources + question), well over the question's 5 words
    ext = body["assistant"]
    assert usage["prompt_tokens"] == ext["timings"]["prompt_tokens"] > 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + 8
    assert set(ext) == EXTENSION_KEYS
    assert ext["route"] == "generate" and ext["intent"] == "refund_status" and ext["sources"][0]["doc_id"] == "refund-timing"
    conv = client.get(f"/v1/conversations/{ext['conversation_id']}").json()
    assert [m["content"] for m in conv["messages"]] == ["How long do refunds take?", choice["message"]["content"]]


def test_conversation_continues_through_the_extension_object(client: TestClient) -> None:
    first = client.post("/v1/chat/completions", json=ask()).json()
    conv_id = first["assistant"]["conversation_id"]
    second = client.post("/v1/chat/completions", json=ask("And for an exchange?", assistant={"conversation_id": conv_id}))
    assert second.status_code == 200, second.text
    assert second.json()["assistant"]["conversation_id"] == conv_id
    assert len(client.get(f"/v1/conversations/{conv_id}").json()["messages"]) == 4
    # the stored history (not earlier entries of `messages`) is what the engine saw
    prompt = client.bot.backend.requests[-1].messages
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]


def test_stream_chunks_join_to_the_json_answer_and_end_with_done(client: TestClient) -> None:
    plain = client.post("/v1/chat/completions", json=ask()).json()
    with client.stream("POST", "/v1/chat/completions", json=ask(stream=True)) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        chunks, done = sse_chunks("".join(r.iter_text()))
    assert done
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 1
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and set(last["assistant"]) == EXTENSION_KEYS
    assert all(c.get("assistant") is None for c in chunks[:-1])


def test_stream_usage_chunk_is_last_when_asked_for(client: TestClient) -> None:
    with client.stream("POST", "/v1/chat/completions",
                       json=ask(stream=True, stream_options={"include_usage": True})) as r:
        chunks, done = sse_chunks("".join(r.iter_text()))
    assert done
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 8
    assert chunks[-1]["assistant"]["route"] == "generate"


def test_models_lists_base_and_adapters_and_an_adapter_is_used(client: TestClient) -> None:
    r = client.get("/v1/models")
    assert r.status_code == 200, r.text
    cards = {m["id"]: m for m in r.json()["data"]}
    assert set(cards) == {"fake-model", "support-lora"} and r.json()["object"] == "list"
    assert cards["support-lora"]["parent"] == "fake-model" and cards["fake-model"]["object"] == "model"
    body = client.post("/v1/chat/completions", json={**ask(), "model": "support-lora"}).json()
    assert body["model"] == "support-lora" and client.bot.backend.requests[-1].adapter == "support-lora"
    client.post("/v1/chat/completions", json=ask())
    assert client.bot.backend.requests[-1].adapter is None


def test_sampling_settings_reach_the_engine_and_a_cut_answer_is_never_shown(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json=ask(temperature=0.7, top_p=0.9, max_tokens=3, stop=["###"],
                                                        seed=7)).json()
    sampling = client.bot.backend.requests[-1].sampling
    assert (sampling.temperature, sampling.top_p, sampling.max_tokens, sampling.stop[0], sampling.seed) == (
        0.7, 0.9, 3, "###", 7)
    assert sampling.stop[1:] == ECHO_STOPS  # the engine's own guard against a reply that echoes the prompt
    # the model's three tokens end mid-sentence: the customer gets the passage's own sentence instead
    assert body["choices"][0]["message"]["content"] == "Refunds are paid within 5 business days. [1]"
    assert body["choices"][0]["finish_reason"] == "stop" and body["assistant"]["route"] == "extractive"


def test_pipeline_decisions_show_in_the_extension(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json=ask("I want to talk to a human")).json()
    ext = body["assistant"]
    assert ext["route"] == "handoff" and ext["handoff"]["reason"] == "customer_request"
    assert body["choices"][0]["message"]["content"] and body["usage"]["completion_tokens"] > 0
    client.bot.retriever.hits = [FakeHit("x", "Unrelated", "Nothing useful.", 0.01)]
    ext = client.post("/v1/chat/completions", json=ask("What is the colour of the sky?")).json()["assistant"]
    assert ext["route"] == "abstain" and ext["abstained"] is True


# -- bad input (fast) ---------------------------------------------------------------------------
BAD = [
    ({"json": {**ask(), "model": "gpt-4o"}}, 404, "model_not_found", "model"),
    ({"json": ask(max_tokens=5000)}, 400, "context_length_exceeded", "max_tokens"),
    ({"json": ask(max_completion_tokens=4094)}, 400, "context_length_exceeded", "max_completion_tokens"),
    ({"json": ask(temperature=-0.1)}, 400, "greater_than_equal", "temperature"),
    ({"json": ask(temperature=2.5)}, 400, "less_than_equal", "temperature"),
    ({"json": ask(top_p=0)}, 400, "greater_than", "top_p"),
    ({"json": ask(top_p=1.5)}, 400, "less_than_equal", "top_p"),
    ({"json": ask(n=2)}, 400, "less_than_equal", "n"),
    ({"json": ask(max_tokens=-1)}, 400, "greater_than_equal", "max_tokens"),
    ({"json": ask(presence_penalty=2.5)}, 400, "less_than_equal", "presence_penalty"),
    ({"json": ask(frequency_penalty=-3)}, 400, "greater_than_equal", "frequency_penalty"),
    ({"json": ask(stop=["a", "b", "c", "d", "e"])}, 400, "value_error", "stop"),
    ({"json": {"messages": [{"role": "user", "content": "hi"}]}}, 400, "missing", "model"),
    ({"json": {"model": "fake-model", "messages": [{"role": "system", "content": "Be nice."}]}}, 400,
     "invalid_value", "messages"),
    ({"json": {"model": "fake-model", "messages": []}}, 400, "invalid_value", "messages"),
    ({"json": {"model": "fake-model", "messages": [{"role": "user", "content": "hi"},
                                                   {"role": "assistant", "content": "Hello"}]}}, 400,
     "invalid_value", "messages"),
    ({"json": {"model": "fake-model", "messages": [{"role": "robot", "content": "hi"}]}}, 400, "literal_error",
     "messages.0.role"),
    ({"json": ask("   ")}, 400, "invalid_message", "messages"),
    ({"json": ask("x" * 4001)}, 400, "invalid_message", "messages"),
    ({"json": ask(tools=[{"type": "function", "function": {"name": "f"}}])}, 400, "unsupported_parameter", "tools"),
    ({"json": {"model": "fake-model", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]}}, 400, "unsupported_content", "messages"),
    ({"json": ask(assistant={"conversation_id": "nope"})}, 404, "conversation_not_found", "assistant.conversation_id"),
    ({"json": ask(stream=True, assistant={"conversation_id": "nope"})}, 404, "conversation_not_found",
     "assistant.conversation_id"),
    ({"content": '{"model": "fake-model", "messages": [', "headers": {"content-type": "application/json"}}, 400,
     "invalid_json", None),
    ({"content": "model=fake-model", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
     "unsupported_media_type", None),
]


@pytest.mark.parametrize(("kwargs", "status", "code", "param"), BAD)
def test_bad_input_gets_an_openai_error_and_stores_nothing(client: TestClient, kwargs: dict, status: int,
                                                           code: str, param: str | None) -> None:
    r = client.post("/v1/chat/completions", **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert (error["code"], error["param"]) == (code, param)
    assert error["type"] == "invalid_request_error"
    assert count_messages(client.store) == 0


def test_other_routes_keep_the_product_error_schema(client: TestClient) -> None:
    r = client.post("/v1/chat", json={"message": ""})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_message" and "type" not in r.json()["error"]


def test_openai_client_raises_its_own_exception_classes(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        _, key = new_site(client, "acme")
        api = openai.OpenAI(base_url="http://testserver/v1", api_key=key, http_client=client, max_retries=0)
        _check_client_errors(api)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url="http://testserver/v1", api_key="sk_wrong", http_client=client,
                          max_retries=0).models.list()


def _check_client_errors(api: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as hot:
        api.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}], temperature=3)
    assert hot.value.param == "temperature"
    reply = api.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "Refunds?"}])
    assert "5 business days" in reply.choices[0].message.content
    assert reply.model_extra["assistant"]["sources"][0]["doc_id"] == "refund-timing"


def test_keys_and_quota_apply_in_openai_shape(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, key = new_site(client, "acme", daily_quota=1)
        r = client.post("/v1/chat/completions", json=ask())
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert client.get("/v1/models").status_code == 401
        ok = client.post("/v1/chat/completions", json=ask(), headers=auth(key))
        assert ok.status_code == 200, ok.text
        assert client.bot.retriever.queries[-1][2] == site["namespace"]
        over = client.post("/v1/chat/completions", json=ask(), headers=auth(key))
        assert over.status_code == 429 and over.headers["retry-after"]
        assert over.json()["error"]["type"] == "rate_limit_error" and over.json()["error"]["code"] == "quota_exceeded"


def test_a_site_whose_adapter_is_not_loaded_gets_404_before_anything_runs(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        _, key = new_site(client, "acme", adapter="support-lora")
        r = client.post("/v1/chat/completions", json=ask(stream=True), headers=auth(key))
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found", r.text
        assert count_messages(client.store) == 0 and client.bot.backend.requests == []


# -- the real server, real model, unmodified clients (slow) ---------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[tuple[str, str]]:
    env = {
        "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("openai-e2e")),
        "ASSISTANT_MODEL_CACHE_DIR": str(model_cache_dir),
        "ASSISTANT_UNDERSTANDING__INTENT_MODEL_DIR": str(model_cache_dir / "test-intent-model"),
        "ASSISTANT_ENGINE__BACKEND": "transformers",
        "ASSISTANT_ENGINE__MAX_NEW_TOKENS": "40",
        "ASSISTANT_SECURITY__ADMIN_KEY": ADMIN,
        "ASSISTANT_SECURITY__REQUIRE_KEYS": "true",
    }
    with running_server(env) as (base, _):
        admin = {"X-Admin-Key": ADMIN}
        site = httpx.post(f"{base}/v1/admin/sites", json={"id": "shop", "name": "Shop", "namespace": "default"}, headers=admin, timeout=30)
        assert site.status_code == 201, site.text
        key = httpx.post(f"{base}/v1/admin/sites/shop/keys", json={"name": "e2e"}, headers=admin, timeout=30)
        assert key.status_code == 201, key.text
        yield f"{base}/v1", key.json()["key"]


@pytest.mark.slow
def test_openai_client_against_the_real_server(server: tuple[str, str]) -> None:
    base_url, key = server
    api = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=120)
    (model, *adapters) = [m.id for m in api.models.list().data]
    assert model == DEFAULT_MODEL and adapters == []
    messages = [{"role": "user", "content": QUESTION}]
    plain = api.chat.completions.create(model=model, messages=messages, temperature=0)
    answer = plain.choices[0].message.content
    ext = plain.model_extra["assistant"]
    assert ext["route"] in ("generate", "extractive") and ext["sources"] and answer  # a checked draft, or the passages
    assert plain.usage.completion_tokens > 0 and plain.usage.total_tokens > plain.usage.prompt_tokens
    stream = api.chat.completions.create(model=model, messages=messages, temperature=0, stream=True,
                                         stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert [s["doc_id"] for s in chunks[-1].model_extra["assistant"]["sources"]] == [s["doc_id"] for s in ext["sources"]]
    follow = api.chat.completions.create(model=model, messages=[{"role": "user", "content": "And for an exchange?"}],
                                         extra_body={"assistant": {"conversation_id": ext["conversation_id"]}})
    assert follow.model_extra["assistant"]["conversation_id"] == ext["conversation_id"]
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(model="gpt-4o", messages=messages)
    with pytest.raises(openai.BadRequestError):
        api.chat.completions.create(model=model, messages=messages, max_tokens=100_000)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="sk_wrong", max_retries=0).models.list()


@pytest.mark.slow
def test_langchain_chat_openai_against_the_real_server(server: tuple[str, str]) -> None:
    from langchain_openai import ChatOpenAI

    base_url, key = server
    llm = ChatOpenAI(model=DEFAULT_MODEL, base_url=base_url, api_key=key, temperature=0,
                     max_retries=0, timeout=120)
    message = llm.invoke(QUESTION)
    assert message.content and message.usage_metadata["output_tokens"] > 0
    streamed = "".join(chunk.content for chunk in llm.stream(QUESTION))
    assert streamed == message.content
