"""A real HTTP server (uvicorn in a thread) on the real app, with the fake backend, for the SDK tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn

from assistant.engine import sites
from assistant.engine.backends.fake import FakeBackend
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.server import ratelimit
from assistant.server.app import create_app
from tests.support import FakeClassifier, FakeHit, FakeRetriever, free_port


class IndexingRetriever(FakeRetriever):
    """FakeRetriever that also keeps what is added to it, per namespace, as the real index's documents and
    snapshot show it: the templates API checks a template's source pages against the site's documents, and an
    operator's answer to unanswered questions is an FAQ entry whose metadata says which replies it answers."""

    def __init__(self, hits: list[FakeHit]) -> None:
        super().__init__(hits)
        self.added: dict[str, dict[str, Any]] = {}

    def documents(self, namespace: str = "default") -> list[dict[str, Any]]:
        return [{"id": doc_id, "title": doc.title} for doc_id, doc in self.added.get(namespace, {}).items()]

    def add_documents(self, docs: list[Any], namespace: str = "default") -> SimpleNamespace:
        for doc in docs:
            self.added.setdefault(namespace, {})[doc.id] = doc
        return SimpleNamespace(errors=[], added=len(docs))

    def snapshot(self, namespace: str = "default") -> SimpleNamespace:
        return SimpleNamespace(docs=dict(self.added.get(namespace, {})))


HITS = [FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.9,
                url="https://help.example.com/refunds")]


class LiveServer:
    def __init__(self, base: str, bot: Assistant, keys: dict[str, str]) -> None:
        self.base, self.bot, self.keys = base, bot, keys


@pytest.fixture()
def live(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """`param`: rate-limit constants of assistant/server/ratelimit.py to replace, e.g. {"KEY_RATE": "2/minute"}."""
    limits: dict[str, Any] = getattr(request, "param", {})
    for name, value in limits.items():
        assert hasattr(ratelimit, name), name
        monkeypatch.setattr(ratelimit, name, value)
    settings = Settings(data_dir=tmp_path, security={"require_keys": True})
    store = Store(settings.resolved_database_url)
    sites.install(store)
    keys = {}
    for site_id in ("acme", "other"):
        sites.create_site(store, site_id, site_id.title())
        keys[site_id] = sites.issue_key(store, site_id, "sdk")[1]
    bot = Assistant(settings, backend=FakeBackend(settings, delay=0.005), retriever=IndexingRetriever(list(HITS)),
                    understanding=FakeClassifier(), policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant=bot), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", bot, keys)
    finally:
        server.should_exit = True
        thread.join(10)
