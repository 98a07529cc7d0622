"""HTTP contract of /v1/chat and /v1/conversations with the fake backend (fast, in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.server.app import create_app
from tests.support import FakeClassifier, FakeHit, FakeRetriever, parse_sse

HITS = [FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.9)]


@pytest.fixture()
def client(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=FakeRetriever(HITS),
                    understanding=FakeClassifier(), policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=Store(settings.resolved_database_url))
    with TestClient(create_app(settings, assistant=bot)) as c:
        c.bot = bot
        yield c


def test_json_chat_returns_answer_sources_and_metadata(client: TestClient) -> None:
    r = client.post("/v1/chat", json={"message": "How long do refunds take?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "5 business days" in body["answer"]
    assert body["sources"][0]["doc_id"] == "refund-timing" and body["sources"][0]["title"] == "Refund timing"
    for key in ("intent", "confidence", "sentiment", "template_id", "handoff", "abstained", "timings"):
        assert key in body
    conv = client.get(f"/v1/conversations/{body['conversation_id']}").json()
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant"]
    assert conv["messages"][1]["content"] == body["answer"]


def test_sse_stream_has_typed_events_and_headers(client: TestClient) -> None:
    with client.stream("POST", "/v1/chat", json={"message": "How long do refunds take?", "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-accel-buffering"] == "no"
        text = "".join(r.iter_text())
    assert text.startswith(": connected")
    events = parse_sse(text)
    names = [n for n, _ in events]
    assert names[0] == "classification" and names[1] == "sources" and names[-1] == "done"
    tokens = "".join(d["text"] for n, d in events if n == "token")
    assert tokens.strip() == events[-1][1]["reply"]["answer"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"message": ""}}, 400, "invalid_message"),
        ({"json": {"message": "   "}}, 400, "invalid_message"),
        ({"json": {"message": "x" * 4001}}, 400, "invalid_message"),
        ({"json": {"message": "hi", "conversation_id": "nope"}}, 404, "conversation_not_found"),
        ({"json": {"message": "hi", "stream": True, "conversation_id": "nope"}}, 404, "conversation_not_found"),
        ({"content": "message=hi", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
         "unsupported_media_type"),
        ({"content": '{"message": "hi"', "headers": {"content-type": "application/json"}}, 400, "invalid_json"),
        ({"json": {"text": "hi"}}, 422, "invalid_request"),
        ({"json": {"message": "hi", "temperature": 9}}, 422, "invalid_request"),
        ({"content": '{"message": "' + "x" * 70_000 + '"}', "headers": {"content-type": "application/json"}}, 413,
         "payload_too_large"),
    ],
)
def test_bad_input_gets_json_4xx_and_stores_nothing(client: TestClient, kwargs: dict, status: int, code: str) -> None:
    r = client.post("/v1/chat", **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]
    assert client.bot.store.list_conversations() == []


def test_unknown_conversation_is_404_json(client: TestClient) -> None:
    r = client.get("/v1/conversations/does-not-exist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
