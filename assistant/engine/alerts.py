"""Negative-surge alerts: checked per site with analytics.detect_surge, stored, listed, posted to a webhook.

    monitor = SurgeMonitor(store, settings.console)
    new_alerts = monitor.check()            # the server runs this every SURGE_CHECK_SECONDS

An alert is stored first (so the console lists it even when the webhook is down), then POSTed
as JSON to console.alert_webhook_url; the delivery outcome is recorded on the alert. While an
alert for a site is younger than the surge window, no new one is raised for that site, so one
surge gives one alert rather than one a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine.analytics import SurgeCheck, SurgeRule, customer_messages, detect_surge, load_frame
from assistant.engine.store import Base, Store, new_id, utcnow

log = logging.getLogger(__name__)

SURGE_CHECK_SECONDS = 60.0  # how often the server checks for a surge: a minute late on an hour's window
ALERT_WEBHOOK_TIMEOUT_S = 3.0  # a slow webhook must not hold up the next check


class Alert(Base):
    __tablename__ = "console_alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recent_total: Mapped[int] = mapped_column(Integer)
    recent_negative: Mapped[int] = mapped_column(Integer)
    recent_share: Mapped[float] = mapped_column(Float)
    baseline_total: Mapped[int] = mapped_column(Integer)
    baseline_share: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    webhook_status: Mapped[str] = mapped_column(String(16), default="not_configured")  # | delivered | failed
    webhook_detail: Mapped[str] = mapped_column(Text, default="")
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)




def alert_payload(alert: Alert) -> dict[str, Any]:
    """The webhook body; `text` makes it readable as-is in Slack/Teams-style incoming webhooks."""
    return {
        "type": "negative_surge",
        "alert_id": alert.id,
        "site_id": alert.site_id,
        "raised_at": alert.raised_at.isoformat(),
        "window_start": alert.window_start.isoformat(),
        "window_end": alert.window_end.isoformat(),
        "recent_messages": alert.recent_total,
        "recent_negative": alert.recent_negative,
        "recent_negative_share": round(alert.recent_share, 4),
        "baseline_messages": alert.baseline_total,
        "baseline_negative_share": round(alert.baseline_share, 4),
        "explanation": alert.explanation,
        "text": f"Negative surge on site '{alert.site_id}': {alert.explanation}",
    }


def post_alert(url: str, payload: dict[str, Any], timeout: float = ALERT_WEBHOOK_TIMEOUT_S) -> tuple[str, str]:
    """POST the alert; returns (status, detail) and never raises: a dead webhook must not stop monitoring."""
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        return "failed", f"{type(exc).__name__}: {exc}"
    if response.is_success:
        return "delivered", f"HTTP {response.status_code}"
    return "failed", f"HTTP {response.status_code}: {response.text[:200]}"


class SurgeMonitor:
    def __init__(self, store: Store, config: Any) -> None:
        self.store = store
        self.config = config
        self.rule = SurgeRule()

    def status(self, now: datetime | None = None, site_id: str | None = None) -> list[SurgeCheck]:
        """The rule's verdict for each site with customer messages in the recent window (or just `site_id`)."""
        now = now or utcnow()
        df = load_frame(self.store, site_id=site_id, since=now - self.rule.window - self.rule.baseline, until=now)
        users = customer_messages(df)
        recent = users[users["created_at"] > pd.Timestamp(now - self.rule.window)]
        sites = [site_id] if site_id else sorted(recent["site_id"].unique())
        return [detect_surge(df[df["site_id"] == site], self.rule, now, site) for site in sites]

    def check(self, now: datetime | None = None) -> list[Alert]:
        """Raise (store, then post) an alert for every site in surge that has no recent alert; returns them."""
        now = now or utcnow()
        raised = []
        for verdict in self.status(now):
            if verdict.triggered and not self._recently_alerted(verdict.site_id, now):
                raised.append(self._raise(verdict, now))
        return raised

    def _recently_alerted(self, site_id: str, now: datetime) -> bool:
        with self.store.session() as s:
            last = s.scalar(select(Alert.raised_at).where(Alert.site_id == site_id)
                            .order_by(Alert.raised_at.desc()).limit(1))
        if last is None:
            return False
        last = pd.Timestamp(last).tz_localize("UTC") if last.tzinfo is None else pd.Timestamp(last)
        return last > pd.Timestamp(now) - self.rule.window

    def _raise(self, verdict: SurgeCheck, now: datetime) -> Alert:
        alert = Alert(site_id=verdict.site_id, raised_at=now, window_start=verdict.window_start,
                      window_end=verdict.window_end, recent_total=verdict.recent_total,
                      recent_negative=verdict.recent_negative, recent_share=verdict.recent_share,
                      baseline_total=verdict.baseline_total, baseline_share=verdict.baseline_share,
                      explanation=verdict.explanation)
        with self.store.session() as s:
            s.add(alert)
        log.warning("negative surge on site %s: %s", verdict.site_id, verdict.explanation)
        url = self.config.alert_webhook_url
        if url:
            status, detail = post_alert(url, alert_payload(alert), ALERT_WEBHOOK_TIMEOUT_S)
            with self.store.session() as s:
                stored = s.get(Alert, alert.id)
                stored.webhook_status, stored.webhook_detail = status, detail
            alert.webhook_status, alert.webhook_detail = status, detail
            if status != "delivered":
                log.error("alert webhook failed: %s", detail)
        return alert

    async def run(self, stop: asyncio.Event, interval: float | None = None) -> None:
        """Check every `interval` seconds until `stop` is set; errors are logged, never fatal."""
        interval = interval or SURGE_CHECK_SECONDS
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.check)
            except Exception:  # noqa: BLE001 - a failed check must not end monitoring
                log.exception("surge check failed")
            await _sleep_unless(stop, interval)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def monitor_when_ready(get_monitor: Callable[[], SurgeMonitor | None], stop: asyncio.Event) -> None:
    """Wait for the facade's monitor (the server loads models in the background), then run it."""
    while not stop.is_set():
        monitor = get_monitor()
        if monitor is not None:
            await monitor.run(stop)
            return
        await _sleep_unless(stop, 1.0)


def list_alerts(store: Store, site_id: str | None = None, limit: int = 50) -> list[Alert]:
    with store.session() as s:
        query = select(Alert).order_by(Alert.raised_at.desc()).limit(limit)
        if site_id:
            query = query.where(Alert.site_id == site_id)
        return list(s.scalars(query).all())


def acknowledge(store: Store, alert_id: str) -> None:
    with store.session() as s:
        alert = s.get(Alert, alert_id)
        if alert is None:
            raise LookupError(f"no alert {alert_id!r}")
        alert.acknowledged = True
