"""A person answers a handed-off customer: POST/GET /v1/conversations/{id}/messages, and the silent assistant."""

from __future__ import annotations

from pathlib import Path

from tests.assistant.server.sites_support import app_client, auth, count_messages, new_site, widget_token

SHOP = "https://shop.example.com"


def _chat(client, headers: dict, message: str = "How long do refunds take?", **extra) -> dict:
    r = client.post("/v1/chat", json={"message": message, **extra}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _reply(client, key: str, cid: str, text: str = "Hi, I'm Sam. Your refund left today.", author: str = "Sam"):
    return client.post(f"/v1/conversations/{cid}/messages", json={"text": text, "author": author}, headers=auth(key))


def test_agent_reply_is_stored_with_its_author_and_the_customer_polls_it(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, key = new_site(client, "acme", [SHOP])
        session = widget_token(client, site, SHOP)
        customer = {**auth(session["token"]), "Origin": SHOP}
        cid = _chat(client, customer)["conversation_id"]
        handed = client.post("/v1/handoff", json={"conversation_id": cid}, headers=customer).json()
        assert handed["status"] == "handoff" and handed["message"]  # the handoff confirmation is still said

        seen = client.get(f"/v1/conversations/{cid}/messages", headers=customer).json()
        assert seen["status"] == "handoff" and [m["role"] for m in seen["messages"]] == ["user", "assistant"] * 2
        after = seen["last_seq"]
        assert after == 4
        assert client.get(f"/v1/conversations/{cid}/messages", params={"after": after},
                          headers=customer).json()["messages"] == []

        r = _reply(client, key, cid, "  Hi, I'm Sam. Your refund left today.  ", " Sam  Lee ")
        assert r.status_code == 201, r.text
        stored = r.json()
        assert (stored["role"], stored["author"], stored["seq"]) == ("agent", "Sam Lee", 5)
        assert stored["content"] == "Hi, I'm Sam. Your refund left today." and stored["created_at"]

        new = client.get(f"/v1/conversations/{cid}/messages", params={"after": after}, headers=customer).json()
        assert new["status"] == "handoff" and new["last_seq"] == 5
        assert [(m["role"], m["author"], m["content"]) for m in new["messages"]] == [
            ("agent", "Sam Lee", "Hi, I'm Sam. Your refund left today.")]
        # The agent's system may poll too, and the transcript has the message with its author.
        assert client.get(f"/v1/conversations/{cid}/messages", params={"after": after},
                          headers=auth(key)).json()["messages"][0]["id"] == stored["id"]
        conv = client.get(f"/v1/conversations/{cid}", headers=auth(key)).json()
        assert conv["messages"][-1]["role"] == "agent" and conv["messages"][-1]["author"] == "Sam Lee"
        assert client.bot.conversations.transcript(cid, "acme")[-1]["role"] == "agent"


def test_assistant_stays_silent_while_a_person_has_the_conversation(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        cid = _chat(client, auth(key))["conversation_id"]
        client.post("/v1/handoff", json={"conversation_id": cid}, headers=auth(key))
        requests_before = len(client.bot.backend.requests)
        _reply(client, key, cid)
        quiet = _chat(client, auth(key), "Thanks! And when will it arrive?", conversation_id=cid)
        assert quiet["route"] == "paused" and quiet["answer"] == "" and quiet["sources"] == []
        assert len(client.bot.backend.requests) == requests_before  # nothing generated
        # Streamed, the silent reply has no token at all.
        with client.stream("POST", "/v1/chat", json={"message": "Hello?", "conversation_id": cid, "stream": True},
                           headers=auth(key)) as r:
            body = r.read().decode()
        assert "event: token" not in body and "event: done" in body
        # The agent sees the customer's messages; the assistant's silent replies are not shown to anyone.
        new = client.get(f"/v1/conversations/{cid}/messages", params={"after": 4}, headers=auth(key)).json()
        assert [(m["role"], m["content"]) for m in new["messages"]] == [
            ("agent", "Hi, I'm Sam. Your refund left today."), ("user", "Thanks! And when will it arrive?"),
            ("user", "Hello?")]
        assert new["last_seq"] == 9  # past the silent replies: the next poll does not see them again
        # Handed back: the assistant answers again, and the poll says so.
        assert client.post(f"/v1/conversations/{cid}/handback", headers=auth(key)).status_code == 200
        assert client.get(f"/v1/conversations/{cid}/messages", params={"after": 9},
                          headers=auth(key)).json()["status"] == "active"
        assert _chat(client, auth(key), conversation_id=cid)["route"] in ("generate", "extractive")


def test_bad_agent_replies_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, key = new_site(client, "acme", [SHOP])
        _, other_key = new_site(client, "other")
        handed = _chat(client, auth(key))["conversation_id"]
        client.post("/v1/handoff", json={"conversation_id": handed}, headers=auth(key))
        active = _chat(client, auth(key))["conversation_id"]
        stored = count_messages(client.store)
        updated = {c: client.get(f"/v1/conversations/{c}", headers=auth(key)).json()["updated_at"]
                   for c in (handed, active)}

        def refused(r, status: int, code: str) -> None:
            assert r.status_code == status, r.text
            assert r.json()["error"]["code"] == code

        refused(_reply(client, other_key, handed), 404, "conversation_not_found")  # another site's
        refused(_reply(client, key, "nope"), 404, "conversation_not_found")
        refused(_reply(client, key, active), 409, "not_handed_off")
        for text in ("", "   \n", "x" * 4001):
            refused(_reply(client, key, handed, text=text), 400, "invalid_message")
        for author in ("", "  ", "n" * 101):
            refused(_reply(client, key, handed, author=author), 400, "invalid_message")
        r = client.post(f"/v1/conversations/{handed}/messages", json={"text": "Hi"}, headers=auth(key))
        refused(r, 422, "invalid_request")  # no author
        # A widget session may not answer as an agent, nor poll a conversation that is not its own.
        session = widget_token(client, site, SHOP)
        customer = {**auth(session["token"]), "Origin": SHOP}
        r = client.post(f"/v1/conversations/{handed}/messages", json={"text": "Hi", "author": "Me"}, headers=customer)
        refused(r, 403, "forbidden")
        refused(client.get(f"/v1/conversations/{handed}/messages", headers=customer), 404, "conversation_not_found")
        refused(client.get(f"/v1/conversations/{handed}/messages", headers=auth(other_key)), 404,
                "conversation_not_found")
        refused(client.get(f"/v1/conversations/{handed}/messages", params={"after": -1}, headers=auth(key)), 422,
                "invalid_request")

        assert count_messages(client.store) == stored  # nothing half-written
        for cid, when in updated.items():  # not even touched
            assert client.get(f"/v1/conversations/{cid}", headers=auth(key)).json()["updated_at"] == when
        assert client.get(f"/v1/conversations/{active}", headers=auth(key)).json()["status"] == "active"
