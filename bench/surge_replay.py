"""Replay two days of customer traffic through the surge monitor: ordinary requests, then the same with a burst.

    python bench/surge_replay.py [--data ../shared/data] [--per-hour 60]

The traffic is real text labelled by the shipped sentiment model (not by gold labels): plain requests from
CLINC150 val (in scope) and BANKING77 test, at `--per-hour` customer messages an hour for 48 hours, on a new
site (the first day is the rule's only history, so the first hours lean on the prior). The second run adds a
burst of complaints (airline tweets labelled negative, measure only) on top of the same traffic: 30 over 20
minutes, 36 hours in. The monitor (assistant.engine.alerts.SurgeMonitor over a SQLite store) is checked every
simulated minute, as the server does. Writes the "surge" section into bench/results/sentiment.md and a PNG.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.alerts import SurgeMonitor  # noqa: E402
from assistant.engine.analytics import SurgeRule  # noqa: E402
from assistant.engine.settings import ConsoleConfig  # noqa: E402
from assistant.engine.store import Conversation, Message, Store, new_id  # noqa: E402
from assistant.engine.understanding.evaluation import load_encoder  # noqa: E402
from assistant.engine.understanding.sentiment import DefaultSentiment  # noqa: E402

HOURS = 48
BURST_AT = dt.timedelta(hours=36)
BURST_SIZE, BURST_MINUTES = 30, 20
START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
OUT_MD = ROOT / "bench" / "results" / "sentiment.md"
MARKER = "## Sentiment: surge alerts replayed"


def texts(path: Path, column: str, keep) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [r["text"] for r in csv.DictReader(f) if keep(r[column])]


def write(store: Store, messages: list[tuple[dt.datetime, str, str]]) -> None:
    convs, rows = [], []
    for at, text, label in messages:
        cid = new_id()
        convs.append({"id": cid, "site_id": "default", "created_at": at, "updated_at": at, "status": "active",
                      "handoff_reason": None, "handoff_at": None})
        rows.append({"id": new_id(), "conversation_id": cid, "seq": 1, "role": "user", "content": text,
                     "created_at": at, "intent": None, "confidence": None, "out_of_scope": False, "sources": [],
                     "model": None, "sentiment": label, "sentiment_score": 0.0, "route": None, "abstained": False,
                     "timings": {}})
    with store.engine.begin() as conn:
        conn.execute(Conversation.__table__.insert(), convs)
        conn.execute(Message.__table__.insert(), rows)


def replay(messages: list[tuple[dt.datetime, str, str]], desc: str) -> tuple[list[dict], list[float]]:
    """Alerts raised while the messages arrive, and the hourly negative share, one check per simulated minute."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/replay.db")
        monitor = SurgeMonitor(store, ConsoleConfig())
        messages = sorted(messages)
        alerts, shares, i = [], [], 0
        for minute in tqdm(range(1, HOURS * 60 + 1), desc=desc, unit="min", mininterval=2):
            now = START + dt.timedelta(minutes=minute)
            batch = []
            while i < len(messages) and messages[i][0] <= now:
                batch.append(messages[i])
                i += 1
            if batch:
                write(store, batch)
            for alert in monitor.check(now):
                alerts.append({"at_hours": round(minute / 60, 2), "explanation": alert.explanation})
            if minute % 60 == 0:
                verdict = monitor.status(now)
                shares.append(verdict[0].recent_share if verdict else 0.0)
        store.close()
    return alerts, shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--per-hour", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(0)
    plain = (texts(args.data / "clinc150" / "val.csv", "intent", lambda i: i not in ("oos", "thank_you"))
             + texts(args.data / "banking77" / "test.csv", "category", lambda c: True))
    complaints = texts(args.data / "airline_sentiment" / "train.csv", "sentiment", lambda s: s == "negative")
    day = rng.sample(plain, min(len(plain), HOURS * args.per_hour))
    burst = rng.sample(complaints, BURST_SIZE)
    encoder = load_encoder()
    sentiment = DefaultSentiment(encoder)
    labels = sentiment.predict(encoder, day + burst)
    ordinary = [(START + dt.timedelta(minutes=rng.uniform(0, HOURS * 60)), t, lab)
                for t, lab in zip(day, labels[:len(day)], strict=True)]
    burst_start = START + BURST_AT
    injected = [(burst_start + dt.timedelta(minutes=rng.uniform(0, BURST_MINUTES)), t, lab)
                for t, lab in zip(burst, labels[len(day):], strict=True)]
    quiet_alerts, quiet_shares = replay(ordinary, "ordinary traffic")
    burst_alerts, burst_shares = replay(ordinary + injected, "with a burst")
    rule = SurgeRule()
    first = next((a for a in burst_alerts if a["at_hours"] >= BURST_AT.total_seconds() / 3600), None)
    delay_min = round((first["at_hours"] - BURST_AT.total_seconds() / 3600) * 60) if first else None
    result = {"messages": len(ordinary), "plain_read_negative": round(labels[:len(day)].count("negative") / len(day), 4),
              "burst_read_negative": f"{labels[len(day):].count('negative')}/{BURST_SIZE}",
              "alerts_ordinary": len(quiet_alerts), "alerts_with_burst": len(burst_alerts),
              "first_alert_minutes_after_burst_start": delay_min, "alerts": burst_alerts + quiet_alerts}
    plot(quiet_shares, burst_shares, burst_alerts, rule, ROOT / "bench" / "results" / "surge-replay.png")
    write_report(args, result, rule)
    print(json.dumps(result, indent=1))


def plot(quiet: list[float], burst: list[float], alerts: list[dict], rule: SurgeRule, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.arange(1, len(quiet) + 1)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(hours, quiet, marker="o", markersize=3, label="ordinary requests")
    ax.plot(hours, burst, marker="o", markersize=3, label=f"same + {BURST_SIZE} complaints at hour 36")
    for a in alerts:
        ax.axvline(a["at_hours"], color="red", linewidth=1)
    ax.axhline(rule.prior_share + rule.min_increase, color="grey", linestyle="--", linewidth=1,
               label="prior + minimum increase")
    ax.set_xlabel("hour of the replay (red: alert raised)")
    ax.set_ylabel("negative share, last hour")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Surge monitor replay")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(args, result: dict, rule: SurgeRule) -> None:
    lines = [MARKER, "",
             f"- date: {dt.datetime.now():%Y-%m-%d %H:%M}; command: `python bench/surge_replay.py --per-hour "
             f"{args.per_hour}`",
             f"- rule: window {rule.window.total_seconds() / 3600:g} h, baseline {rule.baseline.total_seconds() / 3600:g} h, "
             f">= {rule.min_volume} messages, +"
             f"{rule.min_increase:.0%} and {rule.ratio:g}x the baseline, baseline smoothed towards "
             f"{rule.prior_share:.0%} with weight {rule.prior_weight}; checked every simulated minute",
             f"- traffic: {result['messages']} plain requests over {HOURS} h on a new site, labelled by the shipped "
             f"sentiment ({result['plain_read_negative']:.1%} read negative); burst: {BURST_SIZE} airline complaints "
             f"in {BURST_MINUTES} min at hour 36 ({result['burst_read_negative']} read negative)", "",
             "| replay | alerts | first alert after the burst starts |", "| --- | --- | --- |",
             f"| ordinary requests | {result['alerts_ordinary']} | — |",
             f"| with the burst | {result['alerts_with_burst']} | "
             f"{result['first_alert_minutes_after_burst_start']} min |", ""]
    lines += [f"- alert at hour {a['at_hours']}: {a['explanation']}" for a in result["alerts"]]
    lines += ["", "![surge replay](surge-replay.png)", ""]
    existing = OUT_MD.read_text() if OUT_MD.exists() else ""
    head = existing.split(MARKER)[0].rstrip()
    OUT_MD.write_text((head + "\n\n" if head else "") + "\n".join(lines))


if __name__ == "__main__":
    main()
