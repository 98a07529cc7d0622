"""The agent queue over HTTP: list, claim, reply, internal notes, close and hand back, on a real app and SQLite."""

from __future__ import annotations

from pathlib import Path

from tests.assistant.server.sites_support import app_client, auth, count_messages, new_site, widget_token

SHOP = "https://shop.example.com"


def _handed_off(client, headers: dict, message: str = "My parcel is lost, I want a person") -> str:
    cid = client.post("/v1/chat", json={"message": message}, headers=headers).json()["conversation_id"]
    assert client.post("/v1/handoff", json={"conversation_id": cid}, headers=headers).json()["status"] == "handoff"
    return cid


def test_queue_claim_reply_note_close(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, key = new_site(client, "acme", [SHOP])
        h = auth(key)
        first, second = _handed_off(client, h), _handed_off(client, h, "Where is my refund? A human please")
        waiting = client.get("/v1/queue", headers=h).json()
        assert waiting["view"] == "waiting"
        assert [i["conversation_id"] for i in waiting["items"]] == [first, second]  # longest waiting first
        assert waiting["items"][0]["state"] == "waiting" and waiting["items"][0]["waiting_s"] >= 0
        assert waiting["items"][0]["last_customer_message"] == "My parcel is lost, I want a person"

        r = client.post(f"/v1/conversations/{first}/claim", json={"agent": "maria"}, headers=h)
        assert r.status_code == 200, r.text
        assert (r.json()["state"], r.json()["agent"]) == ("claimed", "maria") and r.json()["claimed_at"]
        assert client.post(f"/v1/conversations/{first}/claim", json={"agent": "maria"}, headers=h).status_code == 200
        taken = client.post(f"/v1/conversations/{first}/claim", json={"agent": "sam"}, headers=h)
        assert taken.status_code == 409 and taken.json()["error"]["code"] == "already_claimed"
        # The older acknowledgement is a claim too when it names the agent.
        acked = client.post(f"/v1/conversations/{first}/handoff/ack", params={"agent": "maria"}, headers=h)
        assert acked.status_code == 200 and acked.json()["acknowledged_at"]
        other_ack = client.post(f"/v1/conversations/{first}/handoff/ack", params={"agent": "sam"}, headers=h)
        assert other_ack.status_code == 409 and other_ack.json()["error"]["code"] == "already_claimed"
        assert [i["conversation_id"] for i in client.get("/v1/queue", headers=h).json()["items"]] == [second]
        mine = client.get("/v1/queue", params={"view": "mine", "agent": "maria"}, headers=h).json()["items"]
        assert [i["conversation_id"] for i in mine] == [first]
        assert client.get("/v1/queue", params={"view": "mine", "agent": "sam"}, headers=h).json()["items"] == []

        # A reply is stored with its author; a reply to an unclaimed conversation claims it for its author.
        r = client.post(f"/v1/conversations/{second}/messages", json={"text": "Hi, Sam here.", "author": "Sam"},
                        headers=h)
        assert r.status_code == 201 and r.json()["author"] == "Sam"
        assert client.get("/v1/queue", headers=h).json()["items"] == []
        assert client.get("/v1/queue", params={"view": "claimed"}, headers=h).json()["items"][1]["agent"] == "Sam"

        # An internal note is kept for agents and never reaches the customer's transcript or polling.
        n = client.post(f"/v1/conversations/{first}/notes", json={"author": "maria", "text": "VIP: refund at once"},
                        headers=h)
        assert n.status_code == 201 and n.json()["text"] == "VIP: refund at once"
        assert [x["text"] for x in client.get(f"/v1/conversations/{first}/notes", headers=h).json()] == [
            "VIP: refund at once"]
        transcript = client.get(f"/v1/conversations/{first}", headers=h).text
        polled = client.get(f"/v1/conversations/{first}/messages", headers=h).text
        assert "VIP" not in transcript and "VIP" not in polled

        closed = client.post(f"/v1/conversations/{first}/close", json={"agent": "maria"}, headers=h)
        assert closed.status_code == 200 and closed.json()["state"] == "closed"
        assert closed.json()["outcome"] == "close" and closed.json()["agent"] == "maria"
        assert client.get(f"/v1/conversations/{first}", headers=h).json()["status"] == "active"
        back = client.post(f"/v1/conversations/{second}/handback", params={"agent": "Sam"}, headers=h)
        assert back.status_code == 200 and back.json()["status"] == "active"
        done = client.get("/v1/queue", params={"view": "closed"}, headers=h).json()["items"]
        assert [(i["conversation_id"], i["outcome"]) for i in done] == [(second, "hand_back"), (first, "close")]

        # After close the assistant answers again; a new handoff of the same conversation waits again, unclaimed.
        assert client.post("/v1/chat", json={"message": "hi", "conversation_id": first},
                           headers=h).json()["route"] != "paused"
        client.post("/v1/handoff", json={"conversation_id": first}, headers=h)
        again = client.get("/v1/queue", headers=h).json()["items"]
        assert [(i["conversation_id"], i["agent"]) for i in again] == [(first, None)]

        # A widget session is a customer: it cannot see or work the queue.
        session = widget_token(client, site, SHOP)
        ws = {**auth(session["token"]), "Origin": SHOP}
        assert client.get("/v1/queue", headers=ws).status_code == 403
        assert client.post(f"/v1/conversations/{first}/claim", json={"agent": "x"}, headers=ws).status_code == 403


def test_bad_input_is_refused_with_json_errors_and_nothing_stored(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        _, other = new_site(client, "bikes")
        h = auth(key)
        cid = _handed_off(client, h)
        active = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=h).json()
        before = count_messages(client.store)
        cases = [
            ("post", f"/v1/conversations/{cid}/claim", {"agent": "eve"}, auth(other), 404, "conversation_not_found"),
            ("post", f"/v1/conversations/{cid}/close", {"agent": "eve"}, auth(other), 404, "conversation_not_found"),
            ("post", f"/v1/conversations/{cid}/notes", {"author": "eve", "text": "x"}, auth(other), 404,
             "conversation_not_found"),
            ("get", f"/v1/conversations/{cid}/notes", None, auth(other), 404, "conversation_not_found"),
            ("post", f"/v1/conversations/{active['conversation_id']}/claim", {"agent": "maria"}, h, 409,
             "not_handed_off"),
            ("post", f"/v1/conversations/{active['conversation_id']}/close", {"agent": "maria"}, h, 409,
             "not_handed_off"),
            ("post", f"/v1/conversations/{active['conversation_id']}/messages", {"text": "hi", "author": "m"}, h,
             409, "not_handed_off"),
            ("post", f"/v1/conversations/{cid}/claim", {"agent": "  "}, h, 400, "invalid_message"),
            ("post", f"/v1/conversations/{cid}/claim", {"agent": "m" * 101}, h, 400, "invalid_message"),
            ("post", f"/v1/conversations/{cid}/notes", {"author": "maria", "text": " "}, h, 400, "invalid_message"),
            ("post", f"/v1/conversations/{cid}/notes", {"author": "maria", "text": "x" * 4001}, h, 400,
             "invalid_message"),
            ("post", f"/v1/conversations/{cid}/messages", {"text": "", "author": "maria"}, h, 400, "invalid_message"),
            ("post", f"/v1/conversations/{cid}/messages", {"text": "x" * 4001, "author": "maria"}, h, 400,
             "invalid_message"),
            ("get", "/v1/queue?view=mine", None, h, 400, "invalid_message"),
        ]
        for method, url, body, headers, status, code in cases:
            r = client.request(method.upper(), url, json=body, headers=headers)
            assert r.status_code == status, (url, body, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert r.json()["error"]["code"] == code, (url, r.text)
        bad_json = client.post(f"/v1/conversations/{cid}/claim", content=b"{nope", headers={
            **h, "content-type": "application/json"})
        assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "invalid_json"
        assert count_messages(client.store) == before
        assert client.get(f"/v1/conversations/{cid}/notes", headers=h).json() == []
        assert client.get("/v1/queue", headers=h).json()["items"][0]["agent"] is None
        refused = [e for e in client.bot.audit.entries(site_id="acme") if e.target.startswith("conversation:")]
        assert refused == []  # nothing refused was audited (the site and its key were: the admin made them)


def test_site_and_key_changes_are_audited_under_who_made_them(tmp_path: Path) -> None:
    from tests.assistant.server.sites_support import ADMIN

    admin = {"X-Admin-Key": ADMIN}
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        key_id = client.get("/v1/admin/sites/acme/keys", headers=admin).json()[0]["id"]
        assert client.patch("/v1/site", json={"name": "Acme Bikes"}, headers=auth(key)).status_code == 200
        assert client.patch("/v1/admin/sites/acme", json={"webhook_url": "https://desk.example.com/h"},
                            headers=admin).status_code == 200
        assert client.delete(f"/v1/admin/sites/acme/keys/{key_id}", headers=admin).status_code == 204
        entries = [(e.actor, e.action, e.target, e.detail) for e in reversed(client.bot.audit.entries(site_id="acme"))]
        assert entries[0][:3] == ("admin", "site_create", "site:acme")
        assert entries[1][:3] == ("admin", "key_issue", f"key:{key_id}")
        assert entries[2] == (f"key:{key_id}", "site_update", "site:acme", {"fields": ["name"]})
        assert entries[3] == ("admin", "site_update", "site:acme", {"fields": ["webhook_url"]})
        assert entries[4][:3] == ("admin", "key_revoke", f"key:{key_id}")
        refused = client.patch("/v1/admin/sites/acme", json={"webhook_url": "gopher://x"}, headers=admin)
        assert refused.status_code == 400 and len(client.bot.audit.entries(site_id="acme")) == 5  # not audited
