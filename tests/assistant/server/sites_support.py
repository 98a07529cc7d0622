"""Helpers for the site/auth/limits tests: an in-process app on a real SQLite store with the fake backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from assistant.engine import sites
from assistant.engine.backends.fake import FakeBackend
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.server.app import create_app
from tests.support import FakeClassifier, FakeHit, FakeRetriever

HITS = [FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.9,
                url="https://help.example.com/refunds")]
ADMIN = "admin-test-key"


def make_settings(tmp_path: Path, **security: Any) -> Settings:
    return Settings(data_dir=tmp_path, security={"admin_key": ADMIN, **security})


@contextmanager
def app_client(tmp_path: Path, *, retriever: Any = None, **security: Any) -> Iterator[TestClient]:
    """A TestClient on the real app; `.bot` is the facade and `.store` its SQLite store."""
    settings = make_settings(tmp_path, **security)
    store = Store(settings.resolved_database_url)
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=retriever or FakeRetriever(list(HITS)),
                    understanding=FakeClassifier(), policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=store)
    with TestClient(create_app(settings, assistant=bot)) as client:
        client.bot, client.store = bot, store
        yield client


def new_site(client: TestClient, site_id: str, origins: list[str] | None = None, **fields: Any) -> tuple[dict, str]:
    """Create a site through the admin API and issue it a secret key; returns (site json, secret key)."""
    r = client.post("/v1/admin/sites", json={"id": site_id, "name": site_id.title(),
                                             "allowed_origins": origins or [], **fields},
                    headers={"X-Admin-Key": ADMIN})
    assert r.status_code == 201, r.text
    k = client.post(f"/v1/admin/sites/{site_id}/keys", json={"name": "test"}, headers={"X-Admin-Key": ADMIN})
    assert k.status_code == 201, k.text
    return r.json(), k.json()["key"]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def widget_token(client: TestClient, site: dict, origin: str, session_id: str | None = None) -> dict:
    body = {"site_key": site["public_key"], **({"session_id": session_id} if session_id else {})}
    r = client.post("/v1/widget/session", json=body, headers={"Origin": origin})
    assert r.status_code == 200, r.text
    return r.json()


def count_messages(store: Store) -> int:
    from sqlalchemy import func, select

    from assistant.engine.store import Message

    with store.session() as s:
        return s.scalar(select(func.count(Message.id))) or 0


__all__ = ["ADMIN", "HITS", "app_client", "auth", "count_messages", "new_site", "sites", "widget_token"]
