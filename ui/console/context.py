"""What every console tab shares: the facade getter, the settings, the dashboard filters and display formats.

All data comes from the running `Assistant`'s public methods (its conversations, knowledge base and
understanding), fetched lazily because the server loads models in the background after the console is mounted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import gradio as gr
import pandas as pd

from assistant.engine import analytics as an
from assistant.engine.conversations import Conversations
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings

ALL_SITES = "All sites"
PERIODS: dict[str, timedelta | None] = {
    "Last 24 hours": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
}
COMMON_ZONES = ["UTC", "Europe/Amsterdam", "Europe/London", "America/New_York", "America/Los_Angeles",
                "Asia/Shanghai", "Asia/Kolkata", "Australia/Sydney"]
NOT_READY = "The assistant is still loading its models; try again in a few seconds."


@dataclass(frozen=True)
class Filters:
    site: str = ALL_SITES
    period: str = "Last 7 days"
    bucket: an.Bucket = "hour"
    tz: str = "UTC"

    @property
    def site_id(self) -> str | None:
        return None if self.site in ("", ALL_SITES) else self.site

    def since(self, now: datetime | None = None) -> datetime | None:
        span = PERIODS.get(self.period)
        return None if span is None else (now or datetime.now(UTC)) - span


def make_filters(site: str, period: str, bucket: str, tz: str, fallback_tz: str) -> Filters:
    """Dashboard filters from the widgets; an unknown time zone falls back to the configured one, with a warning."""
    tz = (tz or "").strip() or fallback_tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        gr.Warning(f"Unknown time zone {tz!r}; showing {fallback_tz}. Use an IANA name like Europe/Amsterdam.")
        tz = fallback_tz
    return Filters(site or ALL_SITES, period if period in PERIODS else "Last 7 days",
                   "day" if bucket == "day" else "hour", tz)


class ConsoleContext:
    def __init__(self, get_assistant: Callable[[], Assistant | None], settings: Settings) -> None:
        self._get = get_assistant
        self.settings = settings

    def assistant(self) -> Assistant:
        assistant = self._get()
        if assistant is None:
            raise gr.Error(NOT_READY)
        return assistant

    @property
    def ready(self) -> bool:
        return self._get() is not None

    @property
    def conversations(self) -> Conversations:
        return self.assistant().conversations

    def frame(self, filters: Filters) -> pd.DataFrame:
        return self.conversations.frame(site_id=filters.site_id, since=filters.since())

    def sites(self) -> list[str]:
        """Sites with conversations, plus the knowledge-base namespaces and "default"."""
        assistant = self._get()
        if assistant is None:
            return ["default"]
        found = assistant.conversations.site_ids() | set(assistant.knowledge.namespaces())
        return sorted(found | {"default"})

    def export_dir(self) -> Path:
        path = Path(self.settings.data_dir) / "exports"
        path.mkdir(parents=True, exist_ok=True)
        return path


# -- display formats -----------------------------------------------------------------------------
def pct(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value * 100:.1f}%"


def ms(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.0f} ms"


def signed(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:+.2f}"


def local_time(ts: Any, tz: str) -> str:
    if ts is None or pd.isna(ts):
        return ""
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp  # SQLite returns naive UTC
    return stamp.tz_convert(tz).strftime("%Y-%m-%d %H:%M")


def bucket_labels(col: pd.Series, bucket: str) -> pd.Series:
    """Text labels of aware bucket starts, in their own zone ("2024-06-01 14:00" or "2024-06-01").

    Plots get text, not datetimes: browsers draw datetimes in the viewer's zone, not the console's.
    Labels sort chronologically; the autumn hour that repeats gets " (2nd)" on its second run."""
    if not len(col):
        return pd.Series([], index=col.index, dtype=str)
    labels = col.dt.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H:00")
    offsets = col.map(lambda t: t.utcoffset())
    first = pd.DataFrame({"label": labels, "offset": offsets}).groupby("label")["offset"].transform("max")
    return labels.where(offsets == first, labels + " (2nd)")


def short(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
