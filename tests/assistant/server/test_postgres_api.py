"""The HTTP API on SQLite and on a real PostgreSQL (same code, same assertions): sites and keys, chat in JSON
and SSE, transcripts, listing with filters, feedback, handoff and hand-back, erasure."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.engine.settings import Settings
from assistant.server.app import create_app
from tests.assistant.server.sites_support import ADMIN, auth, new_site
from tests.deploy.databases import DATABASES, database_url
from tests.deploy.lite_app import lite_factory
from tests.support import parse_sse


@pytest.fixture(params=DATABASES)
def client(request: pytest.FixtureRequest, tmp_path: Path):
    with database_url(request.param, tmp_path) as url:
        settings = Settings(data_dir=tmp_path, database_url=url, engine={"backend": "fake"},
                            server={"startup_wait_seconds": 0}, security={"admin_key": ADMIN})
        # the factory path: preflight migrates the database, then the app builds its store on it
        with TestClient(create_app(settings, factory=lite_factory)) as c:
            deadline = time.time() + 30
            while c.get("/readyz").json()["status"] == "loading" and time.time() < deadline:
                time.sleep(0.05)
            assert c.get("/readyz").json()["ready"], c.get("/readyz").json()
            yield c


def test_site_chat_json_and_stream_then_transcript(client: TestClient) -> None:
    site, key = new_site(client, "acme")
    first = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=auth(key))
    assert first.status_code == 200, first.text
    conv_id = first.json()["conversation_id"]
    with client.stream("POST", "/v1/chat", headers=auth(key),
                       json={"message": "And for gift cards?", "conversation_id": conv_id, "stream": True}) as r:
        events = parse_sse("".join(r.iter_text()))
    assert events[-1][0] == "done" and events[-1][1]["reply"]["conversation_id"] == conv_id
    transcript = client.get(f"/v1/conversations/{conv_id}", headers=auth(key)).json()
    assert transcript["site_id"] == "acme"
    assert [m["role"] for m in transcript["messages"]] == ["user", "assistant"] * 2
    assert transcript["messages"][3]["content"] == events[-1][1]["reply"]["answer"]
    assert transcript["messages"][1]["sources"][0]["doc_id"] == "refund-timing"
    other_site, other_key = new_site(client, "globex")
    assert client.get(f"/v1/conversations/{conv_id}", headers=auth(other_key)).status_code == 404


def test_listing_filters_feedback_handoff_and_erasure(client: TestClient) -> None:
    _, key = new_site(client, "acme")
    answered = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=auth(key)).json()
    person = client.post("/v1/chat", json={"message": "I want to talk to a real person please"}, headers=auth(key))
    handed = person.json()["conversation_id"]
    assert person.json()["route"] == "handoff"

    page = client.get("/v1/conversations", params={"status": "handoff"}, headers=auth(key)).json()
    assert [c["id"] for c in page["items"]] == [handed] and page["total"] == 1
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    recent = client.get("/v1/conversations", params={"since": since, "limit": 1}, headers=auth(key)).json()
    assert recent["total"] == 2 and len(recent["items"]) == 1 and recent["next_offset"] == 1

    rated = client.post("/v1/feedback", headers=auth(key), json={
        "conversation_id": answered["conversation_id"], "message_id": answered["message_id"], "rating": "down",
        "correction": "Refunds take 5 business days."})
    assert rated.status_code == 200 and rated.json()["rating"] == "down"

    assert client.post(f"/v1/conversations/{handed}/handoff/ack", headers=auth(key)).status_code == 200
    back = client.post(f"/v1/conversations/{handed}/handback", headers=auth(key))
    assert back.status_code == 200
    again = client.post("/v1/chat", json={"message": "How long do refunds take?", "conversation_id": handed},
                        headers=auth(key))
    assert again.json()["route"] in ("generate", "extractive")  # the assistant answers again after the hand-back

    assert client.delete(f"/v1/conversations/{answered['conversation_id']}", headers=auth(key)).status_code == 204
    assert client.get(f"/v1/conversations/{answered['conversation_id']}", headers=auth(key)).status_code == 404
    assert client.get("/v1/conversations", headers=auth(key)).json()["total"] == 1


def test_agent_queue_notes_and_audit_on_each_database(client: TestClient) -> None:
    _, key = new_site(client, "acme")
    h = auth(key)
    cid = client.post("/v1/handoff", json={"message": "I want a person"}, headers=h).json()["conversation_id"]
    waiting = client.get("/v1/queue", headers=h).json()["items"]
    assert [i["conversation_id"] for i in waiting] == [cid] and waiting[0]["waiting_s"] >= 0
    assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "maria"}, headers=h).status_code == 200
    assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "sam"}, headers=h).status_code == 409
    assert client.post(f"/v1/conversations/{cid}/notes", json={"author": "maria", "text": "VIP"},
                       headers=h).status_code == 201
    assert client.post(f"/v1/conversations/{cid}/messages", json={"author": "Maria", "text": "Hello!"},
                       headers=h).status_code == 201
    closed = client.post(f"/v1/conversations/{cid}/close", json={"agent": "maria"}, headers=h).json()
    assert (closed["state"], closed["outcome"], closed["agent"]) == ("closed", "close", "maria")
    assert closed["waiting_s"] >= 0 and closed["closed_at"]
    assert [i["conversation_id"] for i in client.get("/v1/queue?view=closed", headers=h).json()["items"]] == [cid]
    # erasing the conversation takes its queue row and notes with it; the audit log keeps what was done
    assert client.delete(f"/v1/conversations/{cid}", headers=h).status_code == 204
    assert client.get("/v1/queue?view=closed", headers=h).json()["items"] == []
    bot = client.app.state.app_state.assistant
    assert [e.action for e in bot.audit.entries(site_id="acme")][:4] == ["close", "reply", "note", "claim"]
