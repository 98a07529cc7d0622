"""Conversations API: list with filters and pagination, get, delete (erase on request), handoff ack/handback."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from sqlalchemy import func, select

from assistant.engine.facade import _webhook
from assistant.engine.settings import Settings
from assistant.engine.sites import WidgetConversation
from assistant.engine.store import Message
from tests.assistant.server.sites_support import app_client, auth, count_messages, new_site, widget_token

SHOP = "https://shop.example.com"


def _chat(client, key: str, message: str = "How long do refunds take?", **extra) -> dict:
    r = client.post("/v1/chat", json={"message": message, **extra}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_list_filters_and_pages(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        ids = [_chat(client, key)["conversation_id"] for _ in range(5)]
        handed = client.post("/v1/handoff", json={"conversation_id": ids[0]}, headers=auth(key)).json()
        assert handed["status"] == "handoff" and handed["handoff_reason"] == "customer_request"

        page = client.get("/v1/conversations", params={"limit": 2}, headers=auth(key)).json()
        assert page["total"] == 5 and len(page["items"]) == 2 and page["next_offset"] == 2
        seen = [c["id"] for c in page["items"]]
        while page["next_offset"] is not None:
            page = client.get("/v1/conversations", params={"limit": 2, "offset": page["next_offset"]},
                              headers=auth(key)).json()
            seen += [c["id"] for c in page["items"]]
        assert sorted(seen) == sorted(ids)
        assert seen[0] == ids[0]  # the handoff touched it last: newest first

        only = client.get("/v1/conversations", params={"status": "handoff"}, headers=auth(key)).json()
        assert [c["id"] for c in only["items"]] == [ids[0]]
        assert client.get("/v1/conversations", params={"handoff_reason": "customer_request"},
                          headers=auth(key)).json()["total"] == 1
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert client.get("/v1/conversations", params={"since": future}, headers=auth(key)).json()["total"] == 0
        assert client.get("/v1/conversations", params={"until": future}, headers=auth(key)).json()["total"] == 5
        for bad in ({"limit": 0}, {"limit": 1000}, {"offset": -1}, {"status": "gone"}, {"since": "yesterday"}):
            r = client.get("/v1/conversations", params=bad, headers=auth(key))
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", bad


def test_get_returns_transcript_with_sources(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        first = _chat(client, key)
        _chat(client, key, "And for gift cards?", conversation_id=first["conversation_id"])
        conv = client.get(f"/v1/conversations/{first['conversation_id']}", headers=auth(key)).json()
        assert [m["role"] for m in conv["messages"]] == ["user", "assistant"] * 2
        assert conv["messages"][1]["sources"][0]["url"] == "https://help.example.com/refunds"
        assert client.get("/v1/conversations/" + "x" * 65, headers=auth(key)).status_code == 422


def test_delete_erases_everything_of_the_conversation(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, key = new_site(client, "acme", [SHOP])
        keep = _chat(client, key)["conversation_id"]
        session = widget_token(client, site, SHOP)
        h = {**auth(session["token"]), "Origin": SHOP}
        cid = client.post("/v1/chat", json={"message": "My email is jo@example.com"}, headers=h).json()[
            "conversation_id"]
        with client.store.session() as s:
            assert s.get(WidgetConversation, cid) is not None
        # The visitor may erase their own conversation.
        assert client.delete(f"/v1/conversations/{cid}", headers=h).status_code == 204
        assert client.get(f"/v1/conversations/{cid}", headers=auth(key)).status_code == 404
        assert client.delete(f"/v1/conversations/{cid}", headers=auth(key)).status_code == 404
        with client.store.session() as s:
            assert s.scalar(select(func.count(Message.id)).where(Message.conversation_id == cid)) == 0
            assert s.get(WidgetConversation, cid) is None
        assert count_messages(client.store) == 2  # only the other conversation's turn is left
        assert client.get(f"/v1/conversations/{keep}", headers=auth(key)).status_code == 200


def test_handoff_ack_and_handback(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        notified = []
        client.bot.on_handoff.append(lambda reply, transcript: notified.append((reply, transcript)))
        cid = _chat(client, key)["conversation_id"]
        assert client.post(f"/v1/conversations/{cid}/handoff/ack", headers=auth(key)).status_code == 409
        r = client.post("/v1/handoff", json={"conversation_id": cid, "message": "Please, a human."}, headers=auth(key))
        assert r.status_code == 200 and r.json()["acknowledged_at"] is None and r.json()["message"]
        assert len(notified) == 1 and notified[0][0].handoff.reason == "customer_request"
        assert notified[0][1][-2] == {"role": "user", "content": "Please, a human.", "intent": None, "sentiment": None}
        assert notified[0][1][0]["content"] == "How long do refunds take?"  # the whole conversation, as in a turn
        # Idempotent: asking again changes nothing and does not notify twice.
        assert client.post("/v1/handoff", json={"conversation_id": cid}, headers=auth(key)).json()["status"] == "handoff"
        assert len(notified) == 1
        # While a person has it, the assistant does not answer.
        paused = _chat(client, key, "hello?", conversation_id=cid)
        assert paused["route"] == "paused" and paused["answer"] == ""
        ack = client.post(f"/v1/conversations/{cid}/handoff/ack", params={"agent": "sam"}, headers=auth(key))
        assert ack.status_code == 200 and ack.json()["acknowledged_at"] is not None
        back = client.post(f"/v1/conversations/{cid}/handback", headers=auth(key))
        assert back.status_code == 200 and back.json()["status"] == "active"
        assert _chat(client, key, "How long do refunds take?", conversation_id=cid)["route"] in ("generate", "extractive")
        assert client.post(f"/v1/conversations/{cid}/handback", headers=auth(key)).status_code == 409


def test_handoff_webhook_summary_shows_the_customers_messages(tmp_path: Path) -> None:
    posted: list[dict] = []
    arrived = threading.Event()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            arrived.set()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        with app_client(tmp_path, require_keys=True) as client:
            _, key = new_site(client, "acme")
            client.bot.on_handoff.append(_webhook(Settings(data_dir=tmp_path, understanding={
                "handoff_webhook_url": url})))
            cid = _chat(client, key)["conversation_id"]
            r = client.post("/v1/handoff", json={"conversation_id": cid, "message": "Please, a human."},
                            headers=auth(key))
            assert r.status_code == 200, r.text
            assert arrived.wait(5), "the webhook was not called"
    finally:
        server.shutdown()
        server.server_close()
    payload = posted[0]
    assert payload["conversation_id"] == cid and payload["reason"] == "customer_request"
    summary = payload["summary"]
    assert "(2 from the customer)" in summary, summary
    assert "First request: How long do refunds take?" in summary and "Latest message: Please, a human." in summary


def test_handoff_without_a_conversation_starts_one(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, _ = new_site(client, "acme", [SHOP])
        h = {**auth(widget_token(client, site, SHOP)["token"]), "Origin": SHOP}
        r = client.post("/v1/handoff", json={}, headers=h)
        assert r.status_code == 200 and r.json()["status"] == "handoff"
        conv = client.get(f"/v1/conversations/{r.json()['conversation_id']}", headers=h).json()
        assert [m["role"] for m in conv["messages"]] == ["user", "assistant"]
        assert conv["messages"][1]["route"] == "handoff"
        assert client.post("/v1/handoff", json={"message": "x" * 1001}, headers=h).status_code == 422


def test_a_conversation_shows_the_language_of_each_customer_message(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        cid = _chat(client, key, "¿Cuánto tarda un reembolso en llegar a mi tarjeta?")["conversation_id"]
        _chat(client, key, conversation_id=cid)
        messages = client.get(f"/v1/conversations/{cid}", headers=auth(key)).json()["messages"]
        assert [m["language"] for m in messages if m["role"] == "user"] == ["es", "en"]
