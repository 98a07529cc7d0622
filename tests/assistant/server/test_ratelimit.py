"""Rate limits per IP, key and session (429 + Retry-After, nothing stored) and daily quotas per site."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.engine.security import SecurityConfig
from assistant.server import ratelimit
from assistant.server.ratelimit import Limiter
from tests.assistant.server.sites_support import (
    ADMIN,
    app_client,
    auth,
    count_messages,
    new_site,
    widget_token,
)

CHAT = {"message": "How long do refunds take?"}
SHOP = "https://shop.example.com"


def _retry_after(r, window: int = 60) -> int:
    """A 429 whose Retry-After lies within the limit's window (60 s for the per-minute limits here)."""
    assert r.status_code == 429, r.text
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= window, wait
    return wait


def test_limiter_counts_all_limits_or_none() -> None:
    limiter = Limiter(SecurityConfig())
    checks = [("2/minute", ("ip", "1.2.3.4")), ("1/minute", ("key", "k"))]
    assert limiter.retry_after(checks) is None
    wait = limiter.retry_after(checks)
    assert wait is not None and 1 <= wait <= 60
    # The refused request consumed nothing: the IP still has one request left for another key.
    assert limiter.retry_after([("2/minute", ("ip", "1.2.3.4")), ("1/minute", ("key", "k2"))]) is None
    assert limiter.retry_after([("2/minute", ("ip", "1.2.3.4"))]) is not None
    assert limiter.retry_after([("", ("ip", "x"))]) is None  # empty rate = no limit


def test_per_ip_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "IP_RATE", "3/minute")
    with app_client(tmp_path) as client:
        for _ in range(3):
            assert client.post("/v1/chat", json=CHAT).status_code == 200
        stored = count_messages(client.store)
        r = client.post("/v1/chat", json=CHAT)
        _retry_after(r)
        assert r.json()["error"]["code"] == "rate_limited"
        assert count_messages(client.store) == stored


def test_per_key_limit_from_the_site(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme", key_rate="2/minute")
        _, other = new_site(client, "other")
        for _ in range(2):
            assert client.post("/v1/chat", json=CHAT, headers=auth(key)).status_code == 200
        _retry_after(client.post("/v1/chat", json=CHAT, headers=auth(key)))
        _retry_after(client.get("/v1/conversations", headers=auth(key)))
        assert client.post("/v1/chat", json=CHAT, headers=auth(other)).status_code == 200


def test_per_session_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "SESSION_RATE", "2/minute")
    with app_client(tmp_path, require_keys=True) as client:
        site, _ = new_site(client, "acme", [SHOP])
        h1 = {**auth(widget_token(client, site, SHOP)["token"]), "Origin": SHOP}
        h2 = {**auth(widget_token(client, site, SHOP)["token"]), "Origin": SHOP}
        for _ in range(2):
            assert client.post("/v1/chat", json=CHAT, headers=h1).status_code == 200
        _retry_after(client.post("/v1/chat", json={**CHAT, "stream": True}, headers=h1))
        assert client.post("/v1/chat", json=CHAT, headers=h2).status_code == 200


def test_daily_quota_with_the_sites_message(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme", daily_quota=2, quota_message="Acme chat is closed for today.")
        for _ in range(2):
            assert client.post("/v1/chat", json=CHAT, headers=auth(key)).status_code == 200
        r = client.post("/v1/chat", json={**CHAT, "stream": True}, headers=auth(key))
        _retry_after(r, window=86_400)
        assert r.json()["error"] == {"code": "quota_exceeded", "message": "Acme chat is closed for today.",
                                     "details": {"daily_quota": 2}}
        assert count_messages(client.store) == 4
        # Reading is not a chat turn: the quota does not block it.
        assert client.get("/v1/conversations", headers=auth(key)).status_code == 200
        # The admin lifts the quota.
        client.patch("/v1/admin/sites/acme", json={"daily_quota": 0}, headers={"X-Admin-Key": ADMIN})
        assert client.post("/v1/chat", json=CHAT, headers=auth(key)).status_code == 200


def test_default_quota_for_sites_that_set_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "DAILY_QUOTA", 1)
    monkeypatch.setattr(ratelimit, "QUOTA_MESSAGE", "Try tomorrow.")
    with app_client(tmp_path) as client:
        assert client.post("/v1/chat", json=CHAT).status_code == 200
        r = client.post("/v1/chat", json=CHAT)
        _retry_after(r, window=86_400)
        assert r.json()["error"]["message"] == "Try tomorrow."


def test_widget_session_requests_are_limited_per_ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "IP_RATE", "2/minute")
    with app_client(tmp_path) as client:
        site, _ = new_site(client, "acme", [SHOP])
        body = {"site_key": site["public_key"]}
        assert client.post("/v1/widget/session", json=body, headers={"Origin": SHOP}).status_code == 200
        assert client.post("/v1/widget/session", json=body, headers={"Origin": SHOP}).status_code == 200
        _retry_after(client.post("/v1/widget/session", json=body, headers={"Origin": SHOP}))
