"""Console analytics on seeded conversations in a real SQLite store, with hand-computed answers."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from assistant.engine import analytics as an
from assistant.engine.store import Store
from tests.console_seed import Turn, seed_conversation, seed_demo
from tests.deploy.databases import DATABASES, database_url

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same tests on a SQLite file and on a fresh PostgreSQL database (when one is configured)."""
    with database_url(request.param, tmp_path) as url:
        s = Store(url)
        yield s
        s.close()


def test_empty_store_gives_empty_results_not_errors(store: Store, tmp_path: Path) -> None:
    df = an.load_frame(store)
    assert df.empty and list(df.columns) == an.COLUMNS
    assert an.sentiment_over_time(df, "hour", "UTC").empty
    assert an.sentiment_distribution(df)["count"].tolist() == [0, 0, 0]
    assert an.most_negative_conversations(df).empty
    assert an.intent_volume_over_time(df, "day", "UTC").empty
    assert an.top_intents(df).empty
    assert an.review_queue(df, 0.5).empty
    assert an.conversation_summary(df).empty
    k = an.kpis(df)
    assert k.conversations == 0 and k.automated_resolution_rate is None and k.latency_p50_ms is None
    check = an.detect_surge(df, an.SurgeRule(), NOW)
    assert not check.triggered and check.recent_total == 0 and "fewer than the minimum" in check.explanation
    rows = list(csv.DictReader(an.export_kpis_csv(df, tmp_path / "k.csv").open()))
    assert [r["period"] for r in rows] == ["all"] and rows[0]["conversations"] == "0"


def test_one_bucket_shares(store: Store) -> None:
    seed_conversation(store, NOW - timedelta(minutes=50), [
        Turn("a", "negative"), Turn("b", "neutral", minutes=5), Turn("c", "neutral", minutes=6),
        Turn("d", "positive", minutes=7),
    ])
    out = an.sentiment_over_time(an.load_frame(store), "hour", "UTC")
    assert out["bucket"].nunique() == 1
    assert out["bucket"].iloc[0] == pd.Timestamp("2024-06-01 11:00", tz="UTC")
    assert dict(zip(out["sentiment"], out["count"], strict=True)) == {"negative": 1, "neutral": 2, "positive": 1}
    assert dict(zip(out["sentiment"], out["share"], strict=True)) == {"negative": 0.25, "neutral": 0.5,
                                                                      "positive": 0.25}


def test_day_buckets_follow_the_time_zone(store: Store) -> None:
    # 23:30 UTC on May 31 is June 1 in Amsterdam (UTC+2) and still May 31 in New York (UTC-4).
    seed_conversation(store, datetime(2024, 5, 31, 23, 30, tzinfo=UTC), [Turn("late", "negative")])
    seed_conversation(store, datetime(2024, 6, 1, 9, 0, tzinfo=UTC), [Turn("morning", "positive")])
    df = an.load_frame(store)
    ams = an.sentiment_over_time(df, "day", "Europe/Amsterdam")
    assert ams["bucket"].nunique() == 1 and str(ams["bucket"].iloc[0].date()) == "2024-06-01"
    ny = an.sentiment_over_time(df, "day", "America/New_York")
    assert sorted(str(b.date()) for b in ny["bucket"].unique()) == ["2024-05-31", "2024-06-01"]
    first = ny[ny["bucket"] == ny["bucket"].min()].set_index("sentiment")["share"]
    assert first["negative"] == 1.0 and first["positive"] == 0.0


def test_repeated_autumn_hour_stays_two_buckets(store: Store) -> None:
    # 00:30 and 01:30 UTC on 27 Oct 2024 are both 02:30 in Amsterdam (CEST, then CET).
    seed_conversation(store, datetime(2024, 10, 27, 0, 30, tzinfo=UTC), [Turn("x", "negative")])
    seed_conversation(store, datetime(2024, 10, 27, 1, 30, tzinfo=UTC), [Turn("y", "positive")])
    out = an.sentiment_over_time(an.load_frame(store), "hour", "Europe/Amsterdam")
    buckets = sorted(out["bucket"].unique())
    assert len(buckets) == 2
    assert [b.hour for b in buckets] == [2, 2] and [b.utcoffset().seconds // 3600 for b in buckets] == [2, 1]
    day = an.sentiment_over_time(an.load_frame(store), "day", "Europe/Amsterdam")
    assert day["bucket"].nunique() == 1


def _surge_data(store: Store, recent: list[str], baseline: list[str]) -> pd.DataFrame:
    for i, label in enumerate(baseline):  # spread over the 24 h before the last hour
        seed_conversation(store, NOW - timedelta(hours=2, minutes=20 * i), [Turn(f"b{i}", label)])
    for i, label in enumerate(recent):
        seed_conversation(store, NOW - timedelta(minutes=5 + i), [Turn(f"r{i}", label)])
    return an.load_frame(store)


def test_surge_raised_when_recent_negative_share_doubles(store: Store) -> None:
    df = _surge_data(store, ["negative"] * 6 + ["neutral"] * 4, ["negative"] * 2 + ["neutral"] * 8)
    check = an.detect_surge(df, an.SurgeRule(), NOW)
    assert check.triggered
    assert (check.recent_total, check.recent_negative, check.baseline_total, check.baseline_negative) == (10, 6, 10, 2)
    # the baseline leans on the 10% prior as if it held 30 more messages: (2 + 3) / (10 + 30)
    assert check.recent_share == pytest.approx(0.6) and check.baseline_share == pytest.approx(0.125)
    assert "60%" in check.explanation and "2/10" in check.explanation and "prior 10%" in check.explanation


def test_surge_needs_minimum_volume(store: Store) -> None:
    df = _surge_data(store, ["negative"] * 9, ["neutral"] * 10)
    check = an.detect_surge(df, an.SurgeRule(min_volume=10), NOW)
    assert not check.triggered and check.recent_total == 9
    assert an.detect_surge(df, an.SurgeRule(min_volume=9), NOW).triggered


def test_surge_not_raised_when_baseline_is_already_as_negative(store: Store) -> None:
    df = _surge_data(store, ["negative"] * 6 + ["neutral"] * 4, ["negative"] * 24 + ["neutral"] * 26)
    check = an.detect_surge(df, an.SurgeRule(), NOW)  # 60% vs (24 + 3) / 80 = 34%: +26 points but only 1.8x
    assert not check.triggered and "2x" in check.explanation
    assert an.detect_surge(df, an.SurgeRule(ratio=1.5), NOW).triggered


def test_surge_with_empty_baseline_compares_with_the_prior(store: Store) -> None:
    # a new site: "17% (3/18) vs 0% (0/0)" used to alert; now the baseline is the prior
    df = _surge_data(store, ["negative"] * 3 + ["neutral"] * 15, [])
    check = an.detect_surge(df, an.SurgeRule(), NOW)
    assert not check.triggered and check.baseline_share == pytest.approx(0.1)
    assert "0/0" in check.explanation and "prior 10%" in check.explanation
    assert an.detect_surge(df, an.SurgeRule(prior_share=0.0), NOW).triggered  # without a prior: 17% vs 0%
    burst = _surge_data(store, ["negative"] * 5 + ["neutral"] * 5, [])  # 8 of 28 = 29% >= 10% + 15 and 2x 10%
    assert an.detect_surge(burst, an.SurgeRule(), NOW).triggered


def test_messages_outside_both_windows_are_ignored(store: Store) -> None:
    df = _surge_data(store, ["negative"] * 10, [])
    later = an.detect_surge(df, an.SurgeRule(), NOW + timedelta(hours=2))  # the surge is now the baseline
    assert later.recent_total == 0 and later.baseline_total == 10 and not later.triggered


def test_kpis_follow_the_definitions(store: Store) -> None:
    start = NOW - timedelta(hours=1)
    seed_conversation(store, start, [Turn("q", "neutral", total_ms=100), Turn("thanks", "positive", total_ms=200)])
    seed_conversation(store, start, [Turn("angry", "negative", total_ms=300),
                                     Turn("human", "negative", handoff_reason="customer_request", total_ms=400)])
    seed_conversation(store, start, [Turn("bad", "negative", abstained=True, route="abstain", total_ms=1000)])
    seed_conversation(store, start, [Turn("bad", "negative", total_ms=300), Turn("ok then", "neutral", total_ms=300)])
    k = an.kpis(an.load_frame(store))
    assert k.conversations == 4 and k.customer_messages == 7
    assert k.automated_resolution_rate == pytest.approx(2 / 4)  # first and last: not handed off, not ending negative
    assert k.handoff_rate == pytest.approx(1 / 4)
    assert k.abstention_rate == pytest.approx(1 / 7)
    assert k.average_sentiment == pytest.approx((0 + 0.7 - 0.8 * 4 + 0) / 7)
    # replies' total_ms: 100 200 300 300 300 400 1000 -> numpy linear percentiles
    assert k.latency_p50_ms == pytest.approx(300) and k.latency_p90_ms == pytest.approx(640)


def test_kpi_table_and_csv_export(store: Store, tmp_path: Path) -> None:
    seed_conversation(store, datetime(2024, 5, 30, 10, tzinfo=UTC), [Turn("a", "negative")])
    seed_conversation(store, datetime(2024, 5, 31, 10, tzinfo=UTC), [Turn("b", "neutral")])
    seed_conversation(store, datetime(2024, 5, 31, 11, tzinfo=UTC), [Turn("c", "positive")])
    path = an.export_kpis_csv(an.load_frame(store), tmp_path / "out" / "kpis.csv", "day", "UTC")
    rows = list(csv.DictReader(path.open()))
    assert [r["period"][:10] for r in rows] == ["2024-05-30", "2024-05-31", "all"]
    assert [r["conversations"] for r in rows] == ["1", "2", "3"]
    assert [r["automated_resolution_rate"] for r in rows] == ["0.0000", "1.0000", "0.6667"]
    assert not list(path.parent.glob(".kpis-*"))  # no temp file left behind


def test_demo_set_numbers(store: Store) -> None:
    ids = seed_demo(store, NOW)
    df = an.load_frame(store)
    k = an.kpis(df)
    assert (k.conversations, k.customer_messages) == (6, 10)
    assert k.automated_resolution_rate == pytest.approx(0.5) and k.handoff_rate == pytest.approx(1 / 6)
    assert k.abstention_rate == pytest.approx(0.1)
    worst = an.most_negative_conversations(df)
    assert worst["conversation_id"].tolist()[:2] == [ids["negative"], ids["handoff"]]
    assert worst["recent_score"].iloc[0] == pytest.approx(-0.95) and len(worst) == 3
    dist = an.sentiment_distribution(df).set_index("sentiment")
    assert dist.loc["negative", "count"] == 4 and dist.loc["negative", "share"] == pytest.approx(0.4)


def test_intents_top_volume_and_queue(store: Store) -> None:
    seed_conversation(store, NOW - timedelta(hours=1), [
        Turn("t1", intent="track_order", confidence=0.9), Turn("t2", intent="track_order", confidence=0.7),
        Turn("r1", intent="refund_status", confidence=0.3), Turn("gift?", intent=None, confidence=0.2),
    ])
    df = an.load_frame(store)
    top = an.top_intents(df)
    assert top["intent"].tolist() == ["track_order", an.OUT_OF_SCOPE, "refund_status"]
    assert top["messages"].tolist() == [2, 1, 1] and top["mean_confidence"].iloc[0] == pytest.approx(0.8)
    vol = an.intent_volume_over_time(df, "hour", "UTC", top=2)
    assert set(vol["intent"]) == {"track_order", an.OUT_OF_SCOPE, "other"} and vol["count"].sum() == 4
    queue = an.review_queue(df, low_confidence=0.5)
    assert sorted(queue["text"]) == ["gift?", "r1"]
    assert set(queue["reason"]) == {an.OUT_OF_SCOPE, "low confidence"}
    gift_id = queue.loc[queue["text"] == "gift?", "message_id"].iloc[0]
    assert an.review_queue(df, 0.5, exclude={gift_id})["text"].tolist() == ["r1"]


def test_conversation_filters_and_site_and_since(store: Store) -> None:
    ids = seed_demo(store, NOW)
    seed_conversation(store, NOW - timedelta(days=3), [Turn("old", "negative")], site_id="outlet")
    summary = an.conversation_summary(an.load_frame(store))
    assert len(summary) == 7
    assert an.filter_conversations(summary, handoff=True)["conversation_id"].tolist() == [ids["handoff"]]
    assert len(an.filter_conversations(summary, negative=True)) == 4
    assert an.filter_conversations(summary, intent="missing_package")["conversation_id"].tolist() == [ids["negative"]]
    assert len(an.filter_conversations(summary, site_id="outlet")) == 1
    assert len(an.filter_conversations(summary, day="2024-05-29")) == 1
    with pytest.raises(ValueError, match="date must look like"):
        an.filter_conversations(summary, day="yesterday")
    assert len(an.conversation_summary(an.load_frame(store, site_id="outlet"))) == 1
    assert len(an.conversation_summary(an.load_frame(store, since=NOW - timedelta(days=1)))) == 6


def test_bad_bucket_is_refused(store: Store) -> None:
    seed_conversation(store, NOW, [Turn("a")])
    with pytest.raises(ValueError, match="bucket must be"):
        an.sentiment_over_time(an.load_frame(store), "week", "UTC")  # type: ignore[arg-type]


def test_kpi_table_rows_equal_kpis_of_each_periods_conversations(store: Store) -> None:
    seed_demo(store, NOW)
    seed_conversation(store, NOW - timedelta(days=2), [Turn("old", "negative", total_ms=900, abstained=True)])
    df = an.load_frame(store)
    table = an.kpi_table(df, "hour", "Europe/Amsterdam")
    summary = an.conversation_summary(df)
    starts = an.bucket_starts(summary["started"], "hour", "Europe/Amsterdam")
    assert len(table) == starts.nunique() + 1
    for _, row in table.iterrows():
        if row["period"] == "all":
            ids = set(summary["conversation_id"])
        else:
            ids = set(summary.loc[starts == pd.Timestamp(row["period"]), "conversation_id"])
        expected = an.kpis(df[df["conversation_id"].isin(ids)]).as_dict()
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, nan_ok=True), (row["period"], key)
