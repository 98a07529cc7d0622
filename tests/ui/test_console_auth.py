"""The console's operator login over HTTP (in-process app, real SQLite store) and its small helpers."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from assistant.engine import analytics as an
from assistant.engine.alerts import SurgeMonitor
from assistant.engine.conversations import Conversations
from assistant.engine.security import SecurityConfig
from assistant.engine.settings import ConsoleConfig, Settings
from assistant.engine.sites import SiteDirectory
from assistant.engine.store import Store
from ui.console.auth import PASSWORD_FILE, operator_password
from ui.console.context import bucket_labels


class StubAssistant:
    """Just what the console and the app's shutdown touch: a real store behind the facade's conversations,
    sites and surge monitor, and one knowledge-base namespace."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conversations = Conversations(store, SecurityConfig())
        self.sites = SiteDirectory(store)
        self.knowledge = SimpleNamespace(namespaces=lambda: ["default"])

    def surge_monitor(self) -> SurgeMonitor:
        return SurgeMonitor(self.store, ConsoleConfig())

    async def close(self) -> None:
        self.store.close()


def _client(settings: Settings) -> Iterator[TestClient]:
    from assistant.main import build_app

    app = build_app(settings, assistant=StubAssistant(Store(settings.resolved_database_url)))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", console={"operator_password": "s3cret-pass"})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    yield from _client(settings)


def test_console_needs_a_login(client: TestClient) -> None:
    assert client.get("/console/config").status_code == 401
    event = {"data": [], "fn_index": 4, "session_hash": "abc", "event_data": None, "trigger_id": 1}
    assert client.post("/console/gradio_api/queue/join", json=event).status_code == 401  # no data without login
    wrong = client.post("/console/login", data={"username": "operator", "password": "guess"})
    assert wrong.status_code == 400 and "Incorrect credentials" in wrong.text
    assert client.post("/console/login", data={"username": "admin", "password": "s3cret-pass"}).status_code == 400
    assert client.get("/console/config").status_code == 401
    ok = client.post("/console/login", data={"username": "operator", "password": "s3cret-pass"})
    assert ok.status_code == 200
    config = client.get("/console/config")
    assert config.status_code == 200 and "operator console" in config.text


def test_without_a_configured_password_one_is_generated_privately(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    password = operator_password(settings)
    path = tmp_path / "var" / PASSWORD_FILE
    assert len(password) >= 16 and path.read_text().strip() == password
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert operator_password(settings) == password  # stable across restarts
    for client in _client(settings):
        assert client.post("/console/login", data={"username": "operator", "password": "x"}).status_code == 400
        assert client.post("/console/login", data={"username": "operator", "password": password}).status_code == 200


def test_plot_labels_are_local_text_in_time_order() -> None:
    ts = pd.Series(pd.to_datetime(["2024-10-27 00:30", "2024-10-27 01:30", "2024-10-27 02:30"], utc=True))
    hours = bucket_labels(an.bucket_starts(ts, "hour", "Europe/Amsterdam"), "hour").tolist()
    assert hours == ["2024-10-27 02:00", "2024-10-27 02:00 (2nd)", "2024-10-27 03:00"] == sorted(hours)
    days = bucket_labels(an.bucket_starts(ts, "day", "America/New_York"), "day").tolist()
    assert days == ["2024-10-26", "2024-10-26", "2024-10-26"]
    assert bucket_labels(pd.Series([], dtype="datetime64[ns, UTC]"), "hour").tolist() == []
