"""Surge alerts against a real SQLite store and a real local HTTP webhook receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.engine import alerts
from assistant.engine.alerts import SurgeMonitor, acknowledge, list_alerts, monitor_when_ready
from assistant.engine.settings import ConsoleConfig
from assistant.engine.store import Store
from tests.console_seed import Turn, seed_conversation
from tests.deploy.databases import DATABASES, database_url
from tests.support import free_port

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Hook", (Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


@pytest.fixture(params=DATABASES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same tests on a SQLite file and on a fresh PostgreSQL database (when one is configured)."""
    with database_url(request.param, tmp_path) as url:
        s = Store(url)
        yield s
        s.close()


def seed_surge(store: Store, now: datetime, site_id: str = "default", negative: int = 7, total: int = 10) -> None:
    for i in range(10):  # baseline: 1 in 10 negative
        seed_conversation(store, now - timedelta(hours=3 + i), [Turn(f"b{i}", "negative" if i == 0 else "neutral")],
                          site_id=site_id)
    for i in range(total):
        label = "negative" if i < negative else "neutral"
        seed_conversation(store, now - timedelta(minutes=2 + i), [Turn(f"r{i}", label)], site_id=site_id)


def test_surge_is_stored_and_posted_once(store: Store, webhook: tuple[str, type[Receiver]]) -> None:
    url, hook = webhook
    seed_surge(store, NOW)
    monitor = SurgeMonitor(store, ConsoleConfig(alert_webhook_url=url))
    raised = monitor.check(NOW)
    assert len(raised) == 1 and raised[0].webhook_status == "delivered"
    assert len(hook.received) == 1
    body = hook.received[0]
    assert body["type"] == "negative_surge" and body["site_id"] == "default"
    assert (body["recent_messages"], body["recent_negative"]) == (10, 7)
    assert body["recent_negative_share"] == 0.7 and body["baseline_negative_share"] == 0.1
    assert "70%" in body["text"]
    stored = list_alerts(store)
    assert [a.id for a in stored] == [raised[0].id] and stored[0].webhook_status == "delivered"
    # Same surge a few minutes later: no second alert, no second post.
    assert monitor.check(NOW + timedelta(minutes=5)) == []
    assert len(hook.received) == 1 and len(list_alerts(store)) == 1


def test_a_surge_that_persists_past_the_window_alerts_again(store: Store) -> None:
    seed_surge(store, NOW)
    monitor = SurgeMonitor(store, ConsoleConfig())
    assert len(monitor.check(NOW)) == 1
    seed_surge(store, NOW + timedelta(minutes=61))
    again = monitor.check(NOW + timedelta(minutes=61))
    assert len(again) == 1 and again[0].webhook_status == "not_configured"


def test_no_alert_without_a_surge(store: Store, webhook: tuple[str, type[Receiver]]) -> None:
    url, hook = webhook
    seed_surge(store, NOW, negative=2)
    monitor = SurgeMonitor(store, ConsoleConfig(alert_webhook_url=url))
    assert monitor.check(NOW) == []
    verdict = monitor.status(NOW)
    assert len(verdict) == 1 and not verdict[0].triggered and verdict[0].recent_share == pytest.approx(0.2)
    assert hook.received == [] and list_alerts(store) == []


def test_only_the_site_in_surge_is_alerted(store: Store) -> None:
    seed_surge(store, NOW, site_id="outlet")
    seed_surge(store, NOW, site_id="main", negative=1)
    monitor = SurgeMonitor(store, ConsoleConfig())
    assert [a.site_id for a in monitor.check(NOW)] == ["outlet"]
    assert [v.site_id for v in monitor.status(NOW)] == ["main", "outlet"]
    assert list_alerts(store, site_id="main") == []


def test_dead_or_failing_webhook_is_recorded_not_raised(store: Store, webhook: tuple[str, type[Receiver]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seed_surge(store, NOW)
    dead = f"http://127.0.0.1:{free_port()}/hook"
    monkeypatch.setattr(alerts, "ALERT_WEBHOOK_TIMEOUT_S", 1.0)
    alert = SurgeMonitor(store, ConsoleConfig(alert_webhook_url=dead)).check(NOW)[0]
    assert alert.webhook_status == "failed" and "Connect" in alert.webhook_detail
    assert list_alerts(store)[0].webhook_status == "failed"

    url, hook = webhook
    hook.status = 500
    seed_surge(store, NOW + timedelta(hours=2))
    later = SurgeMonitor(store, ConsoleConfig(alert_webhook_url=url)).check(NOW + timedelta(hours=2))[0]
    assert later.webhook_status == "failed" and later.webhook_detail.startswith("HTTP 500")


def test_acknowledge(store: Store) -> None:
    seed_surge(store, NOW)
    alert = SurgeMonitor(store, ConsoleConfig()).check(NOW)[0]
    acknowledge(store, alert.id)
    assert list_alerts(store)[0].acknowledged
    with pytest.raises(LookupError, match="no alert"):
        acknowledge(store, "nope")


def test_background_monitor_waits_for_the_store_then_alerts(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts, "SURGE_CHECK_SECONDS", 0.2)
    seed_surge(store, datetime.now(UTC))
    calls = {"n": 0}

    def get_monitor() -> SurgeMonitor | None:
        calls["n"] += 1
        return SurgeMonitor(store, ConsoleConfig()) if calls["n"] > 1 else None  # not loaded on the first look

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(monitor_when_ready(get_monitor, stop))
        for _ in range(100):
            await asyncio.sleep(0.1)
            if list_alerts(store):
                break
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert calls["n"] >= 2 and len(list_alerts(store)) == 1
