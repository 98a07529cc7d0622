"""Human handoff: an extractive conversation summary and a best-effort webhook POST.

The webhook must never break a customer's turn, so failures are logged and reported as False.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from assistant.engine.events import Handoff

log = logging.getLogger(__name__)

_CUSTOMER_ROLES = {"user", "customer"}


def _field(turn: Any, name: str, default: Any = None) -> Any:
    if isinstance(turn, Mapping):
        return turn.get(name, default)
    return getattr(turn, name, default)


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize(turns: Sequence[Any], reason: str = "") -> str:
    """A short plain-text summary for the agent who takes over.

    `turns` are mappings or objects with `role` and `content` (optionally `intent`, `sentiment`).
    """
    customer = [t for t in turns if str(_field(t, "role", "")) in _CUSTOMER_ROLES]
    lines = [f"Conversation of {len(turns)} messages ({len(customer)} from the customer)."]
    if reason:
        lines.append(f"Handoff reason: {reason}.")
    if customer:
        lines.append(f"First request: {_clip(_field(customer[0], 'content', ''))}")
        if len(customer) > 1:
            lines.append(f"Latest message: {_clip(_field(customer[-1], 'content', ''))}")
    intents = [str(i) for i in (_field(t, "intent") for t in customer) if i]
    if intents:
        lines.append(f"Intents: {', '.join(dict.fromkeys(intents))}.")
    moods = [_sentiment_label(_field(t, "sentiment")) for t in customer]
    moods = [m for m in moods if m]
    if moods:
        lines.append(f"Customer sentiment: {' -> '.join(moods)}.")
    return "\n".join(lines)


def _sentiment_label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _field(value, "label")


def handoff_payload(conversation_id: str, handoff: Handoff, turns: Sequence[Any]) -> dict[str, Any]:
    """The JSON body posted to the webhook: who, why, a summary and the customer's sentiment series."""
    from assistant.engine.understanding.sentiment import sentiment_trajectory

    customer = [t for t in turns if str(_field(t, "role", "")) in _CUSTOMER_ROLES]
    return {
        "event": "handoff",
        "conversation_id": conversation_id,
        "reason": handoff.reason,
        "detail": handoff.detail,
        "summary": summarize(turns, handoff.reason),
        "sentiment_trajectory": sentiment_trajectory([_field(t, "sentiment") for t in customer]),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def post_handoff(url: str, payload: Mapping[str, Any], timeout: float = 3.0) -> bool:
    """POST `payload` as JSON to `url`; True on a 2xx answer. Never raises."""
    if not url:
        return False
    try:
        response = httpx.post(url, json=dict(payload), timeout=timeout)
        response.raise_for_status()
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        log.warning("handoff webhook %s failed: %s", url, exc)
        return False
    return True
