"""Console analytics: pure functions over the conversation store's messages (pandas in, pandas out).

    df = load_frame(store, site_id="default", since=now - timedelta(days=7))
    shares = sentiment_over_time(df, "hour", "Europe/Amsterdam")
    check = detect_surge(df, SurgeRule(), now=now)
    numbers = kpis(df)

`load_frame` is the only function that touches the database; everything else takes its frame,
so the numbers are easy to test and to reproduce. Buckets are local wall-clock hours or days of
the given IANA time zone (a day across a DST change is 23 or 25 hours long; the repeated autumn
hour is two buckets with the same label and different UTC offsets). Buckets without messages are
left out rather than drawn as zero.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import select

from assistant.engine.store import Conversation, Message, Store

Bucket = Literal["hour", "day"]
SENTIMENTS = ("negative", "neutral", "positive")
OUT_OF_SCOPE = "out of scope"
_EPS = 1e-9  # shares are ratios of small counts: 0.6 must equal 1.5 x 0.4

RESOLUTION_DEFINITION = (
    "Automated resolution rate = the share of conversations that were not handed off to a person "
    "and whose last customer message was not negative."
)

COLUMNS = [
    "message_id", "conversation_id", "site_id", "seq", "role", "content", "created_at", "intent", "confidence",
    "out_of_scope", "sentiment", "sentiment_score", "route", "template_id", "abstained", "handoff_reason",
    "total_ms", "conv_status", "conv_handoff_at", "conv_created_at",
]


# -- loading -------------------------------------------------------------------------------------
def load_frame(store: Store, *, site_id: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> pd.DataFrame:
    """Every message (optionally of one site, within [since, until)) with its conversation's status."""
    query = (
        select(Message.id, Message.conversation_id, Conversation.site_id, Message.seq, Message.role,
               Message.content, Message.created_at, Message.intent, Message.confidence, Message.out_of_scope,
               Message.sentiment, Message.sentiment_score, Message.route, Message.template_id, Message.abstained,
               Message.handoff_reason, Message.timings["total_ms"].as_float(), Conversation.status,
               Conversation.handoff_at, Conversation.created_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .order_by(Message.created_at, Message.conversation_id, Message.seq)
    )
    if site_id:
        query = query.where(Conversation.site_id == site_id)
    if since is not None:
        query = query.where(Message.created_at >= since)
    if until is not None:
        query = query.where(Message.created_at < until)
    # Core rows, not ORM ones, and total_ms read inside the database: both matter at 10^5 messages.
    with store.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query)]
    return frame_from_records(rows)


def frame_from_records(rows: list[tuple[Any, ...]] | list[dict[str, Any]]) -> pd.DataFrame:
    """Build the analytics frame from rows in COLUMNS order (or dicts); timestamps become UTC-aware."""
    df = pd.DataFrame.from_records(rows, columns=COLUMNS) if rows else pd.DataFrame(columns=COLUMNS)
    for col in ("created_at", "conv_handoff_at", "conv_created_at"):
        df[col] = _utc(df[col])
    for col in ("confidence", "sentiment_score", "total_ms"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in ("out_of_scope", "abstained"):
        df[col] = df[col].fillna(False).astype(bool)
    return df


def _utc(col: pd.Series) -> pd.Series:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL hands back aware ones.
    values = pd.to_datetime(col, errors="coerce", utc=False, format="mixed") if len(col) else col
    values = pd.Series(values, index=col.index)
    if not len(values):
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=col.index)
    if getattr(values.dt, "tz", None) is None:
        return values.dt.tz_localize("UTC")
    return values.dt.tz_convert("UTC")


def customer_messages(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["role"] == "user"]


def assistant_messages(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["role"] == "assistant"]


def bucket_starts(ts: pd.Series, bucket: Bucket, tz: str) -> pd.Series:
    """Local start of each timestamp's hour or day in `tz` (aware, so DST-repeated hours stay apart)."""
    if bucket not in ("hour", "day"):
        raise ValueError(f"bucket must be 'hour' or 'day', got {bucket!r}")
    local = ts.dt.tz_convert(tz)
    if bucket == "day":
        return local.dt.normalize()
    # Floor the wall-clock time, then step back by the row's own UTC offset: no ambiguous local
    # times to resolve, and vectorised (offsets change on whole hours in practice).
    wall = local.dt.tz_localize(None)
    offset = wall - ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return (wall.dt.floor("h") - offset).dt.tz_localize("UTC").dt.tz_convert(tz)


# -- sentiment -----------------------------------------------------------------------------------
def sentiment_over_time(df: pd.DataFrame, bucket: Bucket, tz: str) -> pd.DataFrame:
    """Per bucket and label: count and share of customer messages. Columns: bucket, sentiment, count, share."""
    users = customer_messages(df).dropna(subset=["sentiment"])
    if users.empty:
        return pd.DataFrame({"bucket": pd.Series(dtype=f"datetime64[ns, {tz}]"), "sentiment": pd.Series(dtype=str),
                             "count": pd.Series(dtype=int), "share": pd.Series(dtype=float)})
    buckets = bucket_starts(users["created_at"], bucket, tz)
    counts = pd.crosstab(buckets.rename("bucket"), users["sentiment"]).reindex(columns=list(SENTIMENTS), fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0)
    out = counts.stack().rename("count").to_frame().join(shares.stack().rename("share")).reset_index()
    out.columns = ["bucket", "sentiment", "count", "share"]
    return out.sort_values(["bucket", "sentiment"], kind="stable").reset_index(drop=True)


def sentiment_distribution(df: pd.DataFrame) -> pd.DataFrame:
    """Count and share of each label over all customer messages. Columns: sentiment, count, share."""
    counts = customer_messages(df)["sentiment"].value_counts().reindex(list(SENTIMENTS), fill_value=0)
    total = int(counts.sum())
    return pd.DataFrame({"sentiment": list(SENTIMENTS), "count": counts.to_numpy(dtype=int),
                         "share": counts.to_numpy(dtype=float) / total if total else np.zeros(3)})


def most_negative_conversations(df: pd.DataFrame, limit: int = 10, last_n: int = 3) -> pd.DataFrame:
    """Conversations ranked by the mean score of their last `last_n` customer messages ("right now"),
    most negative first; only conversations with at least one negative message are listed."""
    users = customer_messages(df).dropna(subset=["sentiment_score"])
    cols = ["conversation_id", "site_id", "last_activity", "recent_score", "negative_messages",
            "customer_messages", "last_customer_message", "status"]
    if users.empty:
        return pd.DataFrame(columns=cols)
    users = users.sort_values(["conversation_id", "seq"], kind="stable")
    by_conv = users.groupby("conversation_id", sort=False)
    last = by_conv.tail(1).set_index("conversation_id")
    out = pd.DataFrame({
        "site_id": last["site_id"], "last_activity": last["created_at"],
        "recent_score": by_conv.tail(last_n).groupby("conversation_id")["sentiment_score"].mean(),
        "negative_messages": (users["sentiment"] == "negative").groupby(users["conversation_id"]).sum(),
        "customer_messages": by_conv.size(), "last_customer_message": last["content"], "status": last["conv_status"],
    })
    out = out[out["negative_messages"] > 0].reset_index(names="conversation_id")[cols]
    return out.sort_values(["recent_score", "last_activity"], ascending=[True, False]).head(limit).reset_index(drop=True)


# Customer messages under this intent confidence (or out of scope) join the console's review queue
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class SurgeRule:
    """Negative-surge rule. A surge is raised when, over the customer messages of the recent window
    (now - window, now] and of the baseline window just before it (now - window - baseline, now - window]:
      recent messages >= min_volume, and
      recent negative share - baseline negative share >= min_increase, and
      recent negative share >= ratio x baseline negative share.
    The baseline share is smoothed towards `prior_share` as if the baseline also held `prior_weight` messages
    at that share: a new site (no history, "0% of 0") compares with the prior, a busy one with its own day.
    The defaults are the rule the server applies (not settings): an hour compared with the day before it, and at
    least 10 messages, 15 points and twice the baseline, so a handful of upset customers is not a surge. The 10%
    prior is a support chat's ordinary share of unhappy messages; with it a new site needs 25% negative in an hour
    (surge replay in docs/benchmarks.md: ordinary requests 3.3% negative, no alert; a burst alerted in 12 min)."""

    window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(hours=24)
    ratio: float = 2.0
    min_increase: float = 0.15
    min_volume: int = 10
    prior_share: float = 0.10
    prior_weight: int = 30


@dataclass(frozen=True)
class SurgeCheck:
    site_id: str
    window_start: datetime
    window_end: datetime
    recent_total: int
    recent_negative: int
    recent_share: float
    baseline_total: int
    baseline_negative: int
    baseline_share: float
    triggered: bool
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def detect_surge(df: pd.DataFrame, rule: SurgeRule, now: datetime, site_id: str = "all") -> SurgeCheck:
    """Apply `rule` at time `now` (aware) to the customer messages in `df` (already filtered to a site)."""
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    start, base_start = now_ts - rule.window, now_ts - rule.window - rule.baseline
    users = customer_messages(df).dropna(subset=["sentiment"])
    at = users["created_at"]
    recent = users[(at > start) & (at <= now_ts)]
    base = users[(at > base_start) & (at <= start)]
    r_neg, b_neg = int((recent["sentiment"] == "negative").sum()), int((base["sentiment"] == "negative").sum())
    r_share = r_neg / len(recent) if len(recent) else 0.0
    b_share = (b_neg + rule.prior_share * rule.prior_weight) / (len(base) + rule.prior_weight)
    baseline = f"{b_share:.0%} ({b_neg}/{len(base)} in the {_span(rule.baseline)} before, prior {rule.prior_share:.0%})"
    if len(recent) < rule.min_volume:
        triggered, why = False, f"{len(recent)} message(s) in the window, fewer than the minimum {rule.min_volume}"
    elif r_share - b_share < rule.min_increase - _EPS:
        triggered, why = False, f"negative share {r_share:.0%} is not {rule.min_increase:.0%} above baseline {baseline}"
    elif r_share < rule.ratio * b_share - _EPS:
        triggered, why = False, f"negative share {r_share:.0%} is under {rule.ratio:g}x the baseline {baseline}"
    else:
        triggered = True
        why = f"negative share {r_share:.0%} ({r_neg}/{len(recent)}) in the last {_span(rule.window)} vs {baseline}"
    return SurgeCheck(site_id, start.to_pydatetime(), now_ts.to_pydatetime(), len(recent), r_neg, r_share,
                      len(base), b_neg, b_share, triggered, why)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


# -- intents -------------------------------------------------------------------------------------
def _intent_labels(users: pd.DataFrame) -> pd.Series:
    return users["intent"].where(~users["out_of_scope"] & users["intent"].notna(), OUT_OF_SCOPE)


def intent_volume_over_time(df: pd.DataFrame, bucket: Bucket, tz: str, top: int = 8) -> pd.DataFrame:
    """Customer messages per bucket and intent; intents outside the `top` busiest are summed as "other"."""
    users = customer_messages(df)
    if users.empty:
        return pd.DataFrame({"bucket": pd.Series(dtype=f"datetime64[ns, {tz}]"), "intent": pd.Series(dtype=str),
                             "count": pd.Series(dtype=int)})
    labels = _intent_labels(users)
    ranked = sorted(labels.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))  # ties: by name, stably
    keep = {name for name, _ in ranked[:top]}
    labels = labels.where(labels.isin(keep), "other")
    frame = pd.DataFrame({"bucket": bucket_starts(users["created_at"], bucket, tz), "intent": labels})
    out = frame.groupby(["bucket", "intent"]).size().rename("count").reset_index()
    return out.sort_values(["bucket", "count"], ascending=[True, False], kind="stable").reset_index(drop=True)


def top_intents(df: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The busiest intents: messages, share of customer messages, mean confidence."""
    users = customer_messages(df)
    cols = ["intent", "messages", "share", "mean_confidence"]
    if users.empty:
        return pd.DataFrame(columns=cols)
    grouped = users.assign(label=_intent_labels(users)).groupby("label")
    out = pd.DataFrame({"messages": grouped.size(), "mean_confidence": grouped["confidence"].mean()})
    out["share"] = out["messages"] / len(users)
    out = out.reset_index(names="intent").sort_values(["messages", "intent"], ascending=[False, True])
    return out[cols].head(limit).reset_index(drop=True)


def review_queue(df: pd.DataFrame, low_confidence: float = LOW_CONFIDENCE, exclude: set[str] | frozenset[str] = frozenset(),
                 limit: int = 200) -> pd.DataFrame:
    """Customer messages that were out of scope or under `low_confidence`, newest first, minus `exclude` ids."""
    users = customer_messages(df)
    queued = users[(users["out_of_scope"] | (users["confidence"] < low_confidence)) & ~users["message_id"].isin(exclude)]
    out = pd.DataFrame({
        "message_id": queued["message_id"], "created_at": queued["created_at"], "site_id": queued["site_id"],
        "text": queued["content"], "guess": queued["intent"].fillna(""), "confidence": queued["confidence"],
        "reason": np.where(queued["out_of_scope"], OUT_OF_SCOPE, "low confidence"),
    })
    return out.sort_values("created_at", ascending=False).head(limit).reset_index(drop=True)


# -- conversations and KPIs ----------------------------------------------------------------------
def conversation_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per conversation: start, last activity, handed off, ending negative, resolved automatically."""
    cols = ["conversation_id", "site_id", "started", "last_activity", "messages", "intents", "last_sentiment",
            "average_sentiment", "handed_off", "ending_negative", "resolved_automatically"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    ordered = df.sort_values(["conversation_id", "seq"], kind="stable")
    by_conv = ordered.groupby("conversation_id", sort=False)
    out = pd.DataFrame({
        "site_id": by_conv["site_id"].first(),
        "started": by_conv["created_at"].min(),
        "last_activity": by_conv["created_at"].max(),
        "messages": by_conv.size(),
        "handed_off": (by_conv["conv_status"].first() == "handoff") | by_conv["conv_handoff_at"].first().notna()
        | (by_conv["handoff_reason"].count() > 0),
    })
    users = customer_messages(ordered)
    by_user = users.groupby("conversation_id", sort=False)
    labels = users.assign(label=_intent_labels(users)).drop_duplicates(["conversation_id", "label"])
    joined: dict[str, str] = {}  # a plain loop: a per-group pandas join costs ~50x more
    for conv_id, name in zip(labels["conversation_id"].to_numpy(), labels["label"].to_numpy(), strict=True):
        joined[conv_id] = f"{joined[conv_id]}, {name}" if conv_id in joined else name
    out["intents"] = pd.Series(joined, dtype=object).reindex(out.index).fillna("")
    out["last_sentiment"] = by_user["sentiment"].last().reindex(out.index)  # last non-null label
    out["average_sentiment"] = by_user["sentiment_score"].mean().reindex(out.index)
    out["handed_off"] = out["handed_off"].astype(bool)
    out["ending_negative"] = (out["last_sentiment"] == "negative").astype(bool)
    out["resolved_automatically"] = ~out["handed_off"] & ~out["ending_negative"]
    out = out.reset_index(names="conversation_id")[cols]
    return out.sort_values("last_activity", ascending=False, kind="stable").reset_index(drop=True)


def filter_conversations(summary: pd.DataFrame, *, handoff: bool | None = None, negative: bool | None = None,
                         intent: str | None = None, site_id: str | None = None, day: str | None = None,
                         tz: str = "UTC") -> pd.DataFrame:
    """Filter a conversation_summary; `day` (YYYY-MM-DD, local to `tz`) matches the start date."""
    out = summary
    if handoff is not None:
        out = out[out["handed_off"] == handoff]
    if negative is not None:
        out = out[out["ending_negative"] == negative]
    if intent:
        out = out[out["intents"].str.split(", ").apply(lambda names: intent in names)]
    if site_id:
        out = out[out["site_id"] == site_id]
    if day:
        try:
            wanted = pd.Timestamp(day).date()
        except ValueError as exc:
            raise ValueError(f"date must look like 2024-05-31, got {day!r}") from exc
        out = out[out["started"].dt.tz_convert(tz).dt.date == wanted]
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class Kpis:
    conversations: int
    customer_messages: int
    automated_resolution_rate: float | None
    handoff_rate: float | None
    abstention_rate: float | None
    average_sentiment: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def kpis(df: pd.DataFrame, summary: pd.DataFrame | None = None) -> Kpis:
    """Headline numbers; rates are None (not 0) when there is nothing to divide by. `summary` is
    conversation_summary(df) when the caller has it already.

    Abstention rate = abstained replies / assistant replies; latency = per-reply total time."""
    summary = conversation_summary(df) if summary is None else summary
    n = len(summary)
    replies = assistant_messages(df)
    latency = replies["total_ms"].dropna().to_numpy(dtype=float)
    scores = customer_messages(df)["sentiment_score"].dropna()
    return Kpis(
        conversations=n,
        customer_messages=len(customer_messages(df)),
        automated_resolution_rate=float(summary["resolved_automatically"].mean()) if n else None,
        handoff_rate=float(summary["handed_off"].mean()) if n else None,
        abstention_rate=float(replies["abstained"].mean()) if len(replies) else None,
        average_sentiment=float(scores.mean()) if len(scores) else None,
        latency_p50_ms=float(np.percentile(latency, 50)) if len(latency) else None,
        latency_p90_ms=float(np.percentile(latency, 90)) if len(latency) else None,
    )


def kpi_table(df: pd.DataFrame, bucket: Bucket = "day", tz: str = "UTC") -> pd.DataFrame:
    """KPIs per bucket of conversation start, then an "all" row over the whole frame."""
    summary = conversation_summary(df)
    total = pd.DataFrame([{"period": "all", **kpis(df, summary).as_dict()}])
    if summary.empty:
        return total
    period = bucket_starts(summary["started"], bucket, tz).rename("period")
    by_period = summary.groupby(period)
    out = pd.DataFrame({
        "conversations": by_period.size(),
        "automated_resolution_rate": by_period["resolved_automatically"].mean(),
        "handoff_rate": by_period["handed_off"].mean(),
    })
    # Messages count in the period their conversation started, like the conversations themselves.
    msg_period = df["conversation_id"].map(pd.Series(period.to_numpy(), index=summary["conversation_id"]))
    users, replies = df["role"] == "user", df["role"] == "assistant"
    out["customer_messages"] = users.groupby(msg_period).sum()
    out["abstention_rate"] = df.loc[replies, "abstained"].astype(float).groupby(msg_period[replies]).mean()
    out["average_sentiment"] = df.loc[users, "sentiment_score"].groupby(msg_period[users]).mean()
    latency = df.loc[replies, "total_ms"].groupby(msg_period[replies])
    out["latency_p50_ms"], out["latency_p90_ms"] = latency.quantile(0.5), latency.quantile(0.9)
    out = out.reset_index()
    out["period"] = [p.isoformat() for p in out["period"]]
    out = out[list(total.columns)].astype({"conversations": int, "customer_messages": int})
    return pd.concat([out, total], ignore_index=True)


def export_kpis_csv(df: pd.DataFrame, path: str | Path, bucket: Bucket = "day", tz: str = "UTC") -> Path:
    """Write kpi_table as CSV atomically (a crash never leaves half a file); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kpis-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            kpi_table(df, bucket, tz).to_csv(handle, index=False, float_format="%.4f")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
