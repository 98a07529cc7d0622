"""Signed site webhooks on handoff, claim, reply and close: a real local receiver that fails the first two attempts,
retries with backoff, every delivery recorded; the Slack shape; URLs refused when not http(s)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.engine import webhooks
from assistant.engine.webhooks import SIGNATURE_HEADER, verify
from tests.assistant.server.sites_support import ADMIN, app_client, auth, new_site
from tests.assistant.server.webhook_receiver import Receiver

ADMIN_H = {"X-Admin-Key": ADMIN}


def _fast(client) -> None:
    client.bot.webhooks.backoff_s = 0.01  # the same tenacity policy, with test-sized waits


def _agent_day(client, key: str) -> str:
    h = auth(key)
    cid = client.post("/v1/chat", json={"message": "hello"}, headers=h).json()["conversation_id"]
    assert client.post("/v1/handoff", json={"conversation_id": cid, "message": "A person please"},
                       headers=h).status_code == 200
    assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "maria"}, headers=h).status_code == 200
    assert client.post(f"/v1/conversations/{cid}/messages", json={"text": "On it.", "author": "Maria"},
                       headers=h).status_code == 201
    assert client.post(f"/v1/conversations/{cid}/close", json={"agent": "maria"}, headers=h).status_code == 200
    return cid


def test_every_event_is_signed_retried_and_recorded(tmp_path: Path) -> None:
    with Receiver(fail_first=2) as rx, app_client(tmp_path, require_keys=True) as client:
        _fast(client)
        site, key = new_site(client, "acme", webhook_url=rx.url)
        secret = site["webhook_secret"]
        assert secret and secret.startswith("whsec_") and site["webhook_format"] is None
        cid = _agent_day(client, key)
        assert client.bot.webhooks.wait_idle(20)
        assert rx.wait_for(4)
        assert rx.refused == 8  # two failed attempts per event before it got through
        events = sorted(d["json"]["event"] for d in rx.delivered)
        assert events == ["claim", "close", "handoff", "reply"]
        for d in rx.delivered:
            assert verify(secret, d["body"], d["headers"][SIGNATURE_HEADER])
            assert not verify("whsec_another-secret-xxxx", d["body"], d["headers"][SIGNATURE_HEADER])
            assert d["json"]["conversation_id"] == cid and d["json"]["site_id"] == "acme" and d["json"]["text"]
        handoff = next(d["json"] for d in rx.delivered if d["json"]["event"] == "handoff")
        assert handoff["reason"] == "customer_request" and "First request: hello" in handoff["summary"]
        reply = next(d["json"] for d in rx.delivered if d["json"]["event"] == "reply")
        assert (reply["author"], reply["message"]) == ("Maria", "On it.") and reply["text"].endswith(": On it.")
        recorded = client.get("/v1/webhooks/deliveries", headers=auth(key)).json()
        assert len(recorded) == 4
        assert all((r["status"], r["attempts"], r["http_status"], r["last_error"], r["url"]) ==
                   ("delivered", 3, 204, "", rx.url) for r in recorded)
        assert all(r["finished_at"] for r in recorded)


def test_a_receiver_that_never_answers_well_is_recorded_as_failed(tmp_path: Path) -> None:
    with Receiver(fail_first=100, status=503) as rx, app_client(tmp_path, require_keys=True) as client:
        _fast(client)
        _, key = new_site(client, "acme", webhook_url=rx.url, webhook_format="slack")
        _agent_day(client, key)
        assert client.bot.webhooks.wait_idle(20)
        recorded = client.bot.webhooks.deliveries("acme")
        assert len(recorded) == 4 and rx.delivered == []
        assert {(r.status, r.attempts, r.http_status) for r in recorded} == {("failed", 5, 503)}
        assert all(r.last_error.startswith("HTTP 503") for r in recorded)


def test_slack_shape_and_a_refusing_receiver_is_not_retried(tmp_path: Path) -> None:
    with Receiver() as rx, app_client(tmp_path, require_keys=True) as client:
        _fast(client)
        _, key = new_site(client, "acme", webhook_url=rx.url, webhook_format="slack",
                          webhook_secret="s" * 20)
        _agent_day(client, key)
        assert client.bot.webhooks.wait_idle(20) and rx.wait_for(4)
        bodies = [d["json"] for d in rx.delivered]
        assert all(set(b) == {"text"} for b in bodies)  # what a Slack incoming webhook takes
        assert any("maria took conversation" in b["text"] for b in bodies)
        assert any("needs a person" in b["text"] for b in bodies)
    with Receiver(fail_first=100, status=410) as gone, app_client(tmp_path / "b", require_keys=True) as client:
        _fast(client)
        _, key = new_site(client, "acme", webhook_url=gone.url)
        _agent_day(client, key)
        assert client.bot.webhooks.wait_idle(20)
        assert {(r.status, r.attempts) for r in client.bot.webhooks.deliveries("acme")} == {("failed", 1)}


def test_webhook_url_must_be_http_and_is_set_with_the_admin_api(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, _ = new_site(client, "acme")
        for bad in ("ftp://desk.example.com/hook", "javascript:alert(1)", "desk.example.com/hook", "http://"):
            r = client.patch("/v1/admin/sites/acme", json={"webhook_url": bad}, headers=ADMIN_H)
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_webhook_url", r.text
        r = client.post("/v1/admin/sites", json={"id": "b", "name": "B", "webhook_url": "file:///etc/passwd"},
                        headers=ADMIN_H)
        assert r.status_code == 400
        assert client.get("/v1/admin/sites/b", headers=ADMIN_H).status_code == 404  # nothing half-written
        assert client.patch("/v1/admin/sites/acme", json={"webhook_format": "xml"}, headers=ADMIN_H).status_code == 422
        assert client.patch("/v1/admin/sites/acme", json={"webhook_secret": "short"},
                            headers=ADMIN_H).status_code == 422
        ok = client.patch("/v1/admin/sites/acme", json={"webhook_url": "https://desk.example.com/h"}, headers=ADMIN_H)
        assert ok.status_code == 200 and ok.json()["webhook_url"] == "https://desk.example.com/h"
        assert ok.json()["webhook_secret"].startswith("whsec_")
        cleared = client.patch("/v1/admin/sites/acme", json={"webhook_url": ""}, headers=ADMIN_H).json()
        assert cleared["webhook_url"] == ""
        assert client.bot.webhooks.target("acme") is None


def test_the_global_handoff_url_still_serves_the_default_site(tmp_path: Path) -> None:
    with Receiver() as rx, app_client(tmp_path) as client:  # keys not required: the default site answers
        client.bot.webhooks.fallback_url = rx.url  # what ASSISTANT_UNDERSTANDING__HANDOFF_WEBHOOK_URL sets
        cid = client.post("/v1/handoff", json={"message": "I want a person"}).json()["conversation_id"]
        assert rx.wait_for(1)
        body = rx.delivered[0]["json"]
        assert (body["event"], body["conversation_id"], body["reason"]) == ("handoff", cid, "customer_request")
        assert SIGNATURE_HEADER not in rx.delivered[0]["headers"]  # the default site has no secret unless set
        assert json.loads(rx.delivered[0]["body"])["summary"]
        _, key = new_site(client, "acme")
        other = client.post("/v1/handoff", json={"message": "a person"}, headers=auth(key)).json()
        assert other["status"] == "handoff"
        assert client.bot.webhooks.wait_idle(5) and len(rx.delivered) == 1  # other sites do not use it


def test_the_global_setting_is_the_default_sites_fallback(tmp_path: Path) -> None:
    from assistant.engine.backends.fake import FakeBackend
    from assistant.engine.facade import Assistant
    from assistant.engine.settings import Settings
    from assistant.engine.store import Store
    from tests.support import FakeClassifier, FakeRetriever

    url = "http://127.0.0.1:9/desk"
    settings = Settings(data_dir=tmp_path, understanding={"handoff_webhook_url": url})
    store = Store(settings.resolved_database_url)
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=FakeRetriever([]),
                    understanding=FakeClassifier(), policy=None, store=store)
    bot.sites.ensure_default()
    bot.sites.create("acme", "Acme")
    assert bot.webhooks.target("default") == webhooks.Target(url=url, secret="", format="json")
    assert bot.webhooks.target("acme") is None  # another site has only its own
    bot.sites.update("default", webhook_url="https://desk.example.com/own", webhook_format="slack")
    own = bot.webhooks.target("default")
    assert (own.url, own.format) == ("https://desk.example.com/own", "slack") and own.secret.startswith("whsec_")
    store.close()
