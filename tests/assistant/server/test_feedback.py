"""POST /v1/feedback: thumbs and corrections on the caller's own replies, stored through reviews.record_feedback."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.engine.reviews import feedback_for
from tests.assistant.server.sites_support import app_client, auth, new_site, widget_token

SHOP = "https://shop.example.com"


def test_rating_then_correction_update_one_review(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        reply = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=auth(key)).json()
        ids = {"conversation_id": reply["conversation_id"], "message_id": reply["message_id"]}
        r = client.post("/v1/feedback", json={**ids, "rating": "down"}, headers=auth(key))
        assert r.status_code == 200 and r.json()["rating"] == "down"
        r = client.post("/v1/feedback", json={**ids, "correction": "Refunds take 5 business days; mail me at jo@x.io"},
                        headers=auth(key))
        assert r.json() == {**ids, "rating": "down", "correction": "Refunds take 5 business days; mail me at [EMAIL]"}
        stored = feedback_for(client.store, reply["conversation_id"])[reply["message_id"]]
        assert (stored.rating, stored.correction) == ("down", r.json()["correction"])


def test_widget_visitor_rates_own_reply_only(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, key = new_site(client, "acme", [SHOP])
        h1 = {**auth(widget_token(client, site, SHOP)["token"]), "Origin": SHOP}
        h2 = {**auth(widget_token(client, site, SHOP)["token"]), "Origin": SHOP}
        reply = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=h1).json()
        ids = {"conversation_id": reply["conversation_id"], "message_id": reply["message_id"]}
        assert client.post("/v1/feedback", json={**ids, "rating": "up"}, headers=h2).status_code == 404
        assert client.post("/v1/feedback", json={**ids, "rating": "up"}, headers=h1).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"rating": "meh"}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"correction": "   "}, 422, "invalid_request"),
        ({"correction": "x" * 4001}, 422, "invalid_request"),
        ({"rating": "up", "extra": 1}, 422, "invalid_request"),
        ({"rating": "up", "message_id": "nope"}, 404, "message_not_found"),
        ({"rating": "up", "conversation_id": "nope"}, 404, "conversation_not_found"),
        ({"rating": "up", "user_message": True}, 404, "message_not_found"),
    ],
)
def test_bad_feedback_is_refused_and_stores_nothing(tmp_path: Path, body: dict, status: int, code: str) -> None:
    with app_client(tmp_path) as client:
        reply = client.post("/v1/chat", json={"message": "How long do refunds take?"}).json()
        conv = client.get(f"/v1/conversations/{reply['conversation_id']}").json()
        ids = {"conversation_id": reply["conversation_id"], "message_id": reply["message_id"]}
        if body.pop("user_message", False):
            ids["message_id"] = conv["messages"][0]["id"]
        r = client.post("/v1/feedback", json={**ids, **body})
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
        r = client.post("/v1/feedback", content=b"rating=up", headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        assert feedback_for(client.store, reply["conversation_id"]) == {}
