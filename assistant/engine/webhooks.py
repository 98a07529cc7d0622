"""Signed webhooks to a site's help desk on handoff, claim, reply, close and hand back; every delivery recorded.

    sender = WebhookSender(store, fallback_url=settings.understanding.handoff_webhook_url)
    sender.send("acme", "claim", {"conversation_id": "…", "agent": "maria"})   # returns at once
    sender.wait_idle(10)                                                      # tests, shutdown
    sender.deliveries("acme")                                                 # newest first

Where: the site's `webhook_url` (set with the sites admin API or `assistant sites update --webhook-url`); the
default site falls back to ASSISTANT_UNDERSTANDING__HANDOFF_WEBHOOK_URL, as before sites had their own.
Shape: the site's `webhook_format`, "json" (the event's fields and a readable `text`) or "slack" (just {"text"},
what Slack-, Mattermost- and Teams-style incoming webhooks take).
Signature: with a `webhook_secret`, each request carries `X-Assistant-Signature: sha256=<hex>`, the
HMAC-SHA256 of the exact body bytes with that secret (docs/console-and-handoff.md shows how to check it).

Delivery is off the request path (a small thread pool) and retried with exponential backoff (tenacity) on
connection errors, timeouts, 5xx, 408 and 429; any other answer is final. Each delivery is a row of
`webhook_deliveries` (event, url, attempts, status, HTTP status, last error, times), written before the first
attempt, so a delivery cut short by a restart still shows as "pending".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from assistant.engine.errors import SiteError
from assistant.engine.store import Base, Store, new_id, utcnow

log = logging.getLogger(__name__)

FORMATS = ("json", "slack")
EVENTS = ("handoff", "claim", "reply", "close", "hand_back")
SIGNATURE_HEADER = "X-Assistant-Signature"
# Retry policy (constants, not settings: the settings cap is reached). 5 attempts, 0.5 s doubling to 8 s between
# them: a receiver that restarts within ~15 s gets every event; a dead one costs a worker ~15 s, not the customer.
ATTEMPTS = 5
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
TIMEOUT_S = 5.0
WORKERS = 16  # threads mostly sleep between attempts: one dead receiver must not hold up the others
RETRY_STATUSES = {408, 429}


class DeliveryFailed(Exception):
    """One attempt failed in a way worth retrying."""


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    url: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class Target:
    url: str
    secret: str
    format: str


class WebhookURLError(SiteError):
    """The webhook URL is not an http(s) URL (the API answers 400, the CLI fails with the message)."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


def validate_url(url: str | None) -> str | None:
    """A webhook URL must be http(s)://host...; empty or None clears it. WebhookURLError otherwise."""
    if url is None or url == "":
        return url
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookURLError(f"webhook_url {url!r} must be an http:// or https:// URL")
    if len(url) > 500:
        raise WebhookURLError("webhook_url is longer than 500 characters")
    return url.strip()


def validate_format(value: str | None) -> str | None:
    if value not in (None, *FORMATS):
        raise SiteError(f"webhook_format must be one of {list(FORMATS)}")
    return value


def validate_secret(value: str | None) -> str | None:
    if value and not (16 <= len(value) <= 200):
        raise SiteError("webhook_secret must be 16 to 200 characters (empty: unsigned)")
    return value


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header or "")


def summary_text(site_id: str, event: str, data: dict[str, Any]) -> str:
    """One readable line per event: Slack's whole message, and the `text` of the JSON shape."""
    conv = str(data.get("conversation_id", ""))[:12]
    who = data.get("agent") or data.get("author") or "an agent"
    lines = {
        "handoff": f"[{site_id}] Conversation {conv} needs a person ({data.get('reason') or 'handoff'}).",
        "claim": f"[{site_id}] {who} took conversation {conv}.",
        "reply": f"[{site_id}] {who} replied in conversation {conv}: {str(data.get('message', ''))[:200]}",
        "close": f"[{site_id}] {who} closed conversation {conv}.",
        "hand_back": f"[{site_id}] {who} handed conversation {conv} back to the assistant.",
    }
    text = lines.get(event, f"[{site_id}] {event} on conversation {conv}.")
    if event == "handoff" and data.get("summary"):
        text += "\n" + str(data["summary"])
    return text


def body_for(target_format: str, site_id: str, event: str, data: dict[str, Any], delivery_id: str) -> bytes:
    text = summary_text(site_id, event, data)
    if target_format == "slack":
        payload: dict[str, Any] = {"text": text}
    else:
        payload = {"event": event, "site_id": site_id, "delivery_id": delivery_id,
                   "at": utcnow().isoformat(timespec="seconds"), **data, "text": text}
    return json.dumps(payload, ensure_ascii=False, default=str).encode()


class WebhookSender:
    """Queues, signs, sends, retries and records webhook deliveries for every site of one store."""

    def __init__(self, store: Store, *, fallback_url: str = "", timeout_s: float = TIMEOUT_S,
                 attempts: int = ATTEMPTS, backoff_s: float = BACKOFF_S) -> None:
        self._store = store
        self.fallback_url = fallback_url  # the default site's URL when it sets none (the global setting)
        self.timeout_s, self.attempts, self.backoff_s = timeout_s, attempts, backoff_s
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0
        self._idle = threading.Condition()

    def target(self, site_id: str) -> Target | None:
        """Where and how the site's events go, or None when it has no webhook."""
        from assistant.engine.sites import DEFAULT_SITE, Site

        with self._store.session() as s:
            site = s.get(Site, site_id)
        url = (site.webhook_url if site else None) or (self.fallback_url if site_id == DEFAULT_SITE else "")
        if not url:
            return None
        return Target(url=url, secret=(site.webhook_secret if site else None) or "",
                      format=(site.webhook_format if site else None) or "json")

    def send(self, site_id: str, event: str, data: dict[str, Any]) -> str | None:
        """Record and queue one event for the site's webhook; returns the delivery id (None: no webhook).
        Never raises: a help desk that is down must not fail the agent's or customer's request."""
        try:
            target = self.target(site_id)
            if target is None:
                return None
            delivery = WebhookDelivery(id=new_id(), site_id=site_id, event=event, url=target.url,
                                       conversation_id=data.get("conversation_id"), created_at=utcnow())
            with self._store.session() as s:
                s.add(delivery)
            body = body_for(target.format, site_id, event, data, delivery.id)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("webhook %s for site %s not queued", event, site_id)
            return None
        with self._idle:
            self._pending += 1
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="webhook")
        self._pool.submit(self._deliver, delivery.id, target, event, body)
        return delivery.id

    def _deliver(self, delivery_id: str, target: Target, event: str, body: bytes) -> None:
        headers = {"content-type": "application/json", "user-agent": "support-assistant-webhook",
                   "X-Assistant-Event": event, "X-Assistant-Delivery": delivery_id}
        if target.secret:
            headers[SIGNATURE_HEADER] = sign(target.secret, body)
        state: dict[str, Any] = {"attempts": 0, "http_status": None, "error": ""}

        def attempt() -> None:
            state["attempts"] += 1
            try:
                response = httpx.post(target.url, content=body, headers=headers, timeout=self.timeout_s)
            except httpx.HTTPError as exc:
                state["error"] = f"{type(exc).__name__}: {exc}"[:500]
                self._update(delivery_id, attempts=state["attempts"], last_error=state["error"])
                raise DeliveryFailed(state["error"]) from exc
            state["http_status"] = response.status_code
            if response.is_success:
                return
            state["error"] = f"HTTP {response.status_code}: {response.text[:200]}"
            self._update(delivery_id, attempts=state["attempts"], http_status=response.status_code,
                         last_error=state["error"])
            if response.status_code >= 500 or response.status_code in RETRY_STATUSES:
                raise DeliveryFailed(state["error"])
            raise PermissionError(state["error"])  # 4xx: the receiver refuses it; retrying will not help

        retrying = Retrying(stop=stop_after_attempt(self.attempts), retry=retry_if_exception_type(DeliveryFailed),
                            wait=wait_exponential(multiplier=self.backoff_s, max=BACKOFF_MAX_S), reraise=False)
        status = "failed"
        try:
            retrying(attempt)
            status = "delivered"
        except (RetryError, PermissionError):
            log.warning("webhook %s to %s failed after %d attempt(s): %s", event, target.url, state["attempts"],
                        state["error"])
        except Exception as exc:  # noqa: BLE001 - recorded, never raised into the pool
            state["error"] = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            self._update(delivery_id, status=status, attempts=state["attempts"], http_status=state["http_status"],
                         last_error="" if status == "delivered" else state["error"], finished_at=utcnow())
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _update(self, delivery_id: str, **fields: Any) -> None:
        try:
            with self._store.session() as s:
                row = s.get(WebhookDelivery, delivery_id)
                if row is not None:
                    for name, value in fields.items():
                        setattr(row, name, value)
        except Exception:  # noqa: BLE001 - the store closing at shutdown must not kill the worker
            log.exception("webhook delivery %s not recorded", delivery_id)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued delivery has finished (delivered or failed); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Give in-flight deliveries `timeout` seconds, then stop taking new ones."""
        self.wait_idle(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def deliveries(self, site_id: str | None = None, limit: int = 100) -> list[WebhookDelivery]:
        """Recorded deliveries, newest first (of one site, or all)."""
        q = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc())
        if site_id:
            q = q.where(WebhookDelivery.site_id == site_id)
        with self._store.session() as s:
            return list(s.scalars(q.limit(limit)).all())
