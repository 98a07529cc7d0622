"""Auth: secret keys, widget sessions bound to allowed origins, the keyless dev mode, CORS and frame-ancestors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assistant.server import auth as server_auth
from tests.assistant.server.sites_support import app_client, auth, count_messages, new_site, widget_token

SHOP = "https://shop.example.com"
OTHER = "https://other.example.com"
CHAT = {"message": "How long do refunds take?"}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_credentials"),
        ({"Authorization": "Bearer sk_wrong"}, "invalid_credentials"),
        ({"X-API-Key": "sk_wrong"}, "invalid_credentials"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_credentials"),
        ({"Authorization": "Bearer not-a-token"}, "invalid_credentials"),
    ],
)
def test_missing_or_wrong_key_is_401_and_stores_nothing(tmp_path: Path, headers: dict, code: str) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        for path, body in [("/v1/chat", CHAT), ("/v1/chat", {**CHAT, "stream": True}), ("/v1/handoff", {})]:
            r = client.post(path, json=body, headers=headers)
            assert r.status_code == 401, r.text
            assert r.json()["error"]["code"] == code
        assert client.get("/v1/conversations", headers=headers).status_code == 401
        assert count_messages(client.store) == 0


def test_keyless_dev_mode_acts_as_default_site_but_still_checks_keys(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        r = client.post("/v1/chat", json=CHAT)
        assert r.status_code == 200
        conv = client.get(f"/v1/conversations/{r.json()['conversation_id']}").json()
        assert conv["site_id"] == "default"
        assert client.post("/v1/chat", json=CHAT, headers=auth("sk_wrong")).status_code == 401


def test_secret_key_acts_for_its_site(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        r = client.post("/v1/chat", json=CHAT, headers={"X-API-Key": key})
        assert r.status_code == 200
        assert client.get(f"/v1/conversations/{r.json()['conversation_id']}", headers=auth(key)).json()["site_id"] \
            == "acme"


def test_widget_session_needs_a_known_key_and_an_allowed_origin(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, _ = new_site(client, "acme", [SHOP])
        other, _ = new_site(client, "other", [OTHER])
        r = client.post("/v1/widget/session", json={"site_key": "pk_nope"}, headers={"Origin": SHOP})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_site_key"
        r = client.post("/v1/widget/session", json={"site_key": site["public_key"]})
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_required"
        # An origin on no allowlist is stopped by CORS before any route runs, but (on this endpoint only) the
        # page may read why, so that the widget can say "not allowed" rather than "could not connect"...
        evil = {"Origin": "https://evil.com"}
        pre = client.options("/v1/widget/session", headers={**evil, "Access-Control-Request-Method": "POST",
                                                           "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "https://evil.com"
        assert pre.headers["access-control-allow-methods"] == "POST, OPTIONS"
        assert "authorization" not in pre.headers["access-control-allow-headers"].lower()
        r = client.post("/v1/widget/session", json={"site_key": site["public_key"]}, headers=evil)
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
        assert r.headers["access-control-allow-origin"] == "https://evil.com"
        # (every other endpoint stays unreadable to it)
        r = client.post("/v1/chat", json=CHAT, headers=evil)
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        assert count_messages(client.store) == 0
        # ...and one allowed for another site cannot open this site's widget.
        r = client.post("/v1/widget/session", json={"site_key": site["public_key"]}, headers={"Origin": OTHER})
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
        session = widget_token(client, site, SHOP)
        assert session["site_id"] == "acme" and session["session_id"].startswith("ws_")
        assert widget_token(client, other, OTHER)["site_id"] == "other"
        # The server's own pages (/demo) may open any site's widget.
        assert widget_token(client, site, "http://testserver")["site_id"] == "acme"


def test_session_token_scope(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        site, key = new_site(client, "acme", [SHOP, OTHER])
        s1 = widget_token(client, site, SHOP)
        h1 = {**auth(s1["token"]), "Origin": SHOP}
        r = client.post("/v1/chat", json=CHAT, headers=h1)
        assert r.status_code == 200
        cid = r.json()["conversation_id"]
        assert client.get(f"/v1/conversations/{cid}", headers=h1).status_code == 200
        # The same token from another (even allowed) origin is refused.
        r = client.get(f"/v1/conversations/{cid}", headers={**auth(s1["token"]), "Origin": OTHER})
        assert r.status_code == 403
        # Another visitor's session cannot open this conversation; the site's secret key can.
        s2 = widget_token(client, site, SHOP)
        h2 = {**auth(s2["token"]), "Origin": SHOP}
        assert client.get(f"/v1/conversations/{cid}", headers=h2).status_code == 404
        assert client.post("/v1/chat", json={**CHAT, "conversation_id": cid}, headers=h2).status_code == 404
        assert client.get(f"/v1/conversations/{cid}", headers=auth(key)).status_code == 200
        # Resuming the same session (after a reload) reaches the conversation again.
        s1b = widget_token(client, site, SHOP, session_id=s1["session_id"])
        assert client.get(f"/v1/conversations/{cid}", headers={**auth(s1b["token"]), "Origin": SHOP}).status_code == 200
        # A widget session cannot list conversations, manage the KB or act as an agent.
        for method, path in [("GET", "/v1/conversations"), ("GET", "/v1/kb/documents"), ("GET", "/v1/site"),
                             ("POST", f"/v1/conversations/{cid}/handback")]:
            assert client.request(method, path, headers=h1).status_code == 403, path


def test_expired_session_token_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_auth, "TOKEN_TTL_SECONDS", 60)
    with app_client(tmp_path, require_keys=True) as client:
        site, _ = new_site(client, "acme", [SHOP])
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() - 3600)
        token = widget_token(client, site, SHOP)["token"]
        monkeypatch.setattr(time, "time", real)
        r = client.post("/v1/chat", json=CHAT, headers={**auth(token), "Origin": SHOP})
        assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"
        assert count_messages(client.store) == 0


def test_cors_is_strict_and_pages_carry_frame_ancestors(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        new_site(client, "acme", [SHOP])
        pre = {"Origin": SHOP, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type"}
        r = client.options("/v1/chat", headers=pre)
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == SHOP
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        r = client.options("/v1/chat", headers={**pre, "Origin": "https://evil.com"})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        r = client.post("/v1/chat", json=CHAT, headers={"Origin": "https://evil.com"})
        assert r.status_code == 403 and count_messages(client.store) == 0
        r = client.get("/healthz", headers={"Origin": SHOP})
        assert "access-control-allow-origin" not in r.headers  # only the API is shared cross-origin
        docs = client.get("/docs")
        assert docs.headers["content-security-policy"] == f"frame-ancestors 'self' {SHOP}"
        assert docs.headers["x-content-type-options"] == "nosniff"
