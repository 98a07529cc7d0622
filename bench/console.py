"""Console analytics benchmark: how long one dashboard refresh takes as the conversation store grows.

    .venv/bin/python bench/console.py [--sizes 1000 10000 50000] [--repeat 3]

For each size it bulk-writes that many two-turn conversations (4 messages each) spread over the
last 30 days into a fresh SQLite file, then times what the console does per refresh with the
"Last 7 days" and "All time" periods: load the messages (`load_frame`), and compute the
sentiment, intent, queue, conversation and KPI views (`analytics.*`), plus the surge check.
Writes bench/results/console.md (date, machine, load average, command) and bench/results/console.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine import analytics as an  # noqa: E402
from assistant.engine.alerts import SurgeMonitor  # noqa: E402
from assistant.engine.settings import ConsoleConfig  # noqa: E402
from assistant.engine.store import Conversation, Message, Store, new_id  # noqa: E402

INTENTS = ["track_order", "return_item", "refund_status", "cancel_order", "shipping_cost", "human_agent", None]
SENTIMENTS = [("negative", -0.7), ("neutral", 0.0), ("positive", 0.6)]


def seed(store: Store, n: int, now: dt.datetime, rng: random.Random) -> None:
    """Bulk insert n conversations of two turns through SQLAlchemy Core (the ORM would dominate the time)."""
    convs, msgs = [], []
    for _ in range(n):
        cid, start = new_id(), now - dt.timedelta(minutes=rng.uniform(0, 30 * 24 * 60))
        handoff = rng.random() < 0.1
        convs.append({"id": cid, "site_id": rng.choice(["default", "outlet"]), "created_at": start,
                      "updated_at": start, "status": "handoff" if handoff else "active",
                      "handoff_reason": "customer_request" if handoff else None,
                      "handoff_at": start if handoff else None})
        for turn in range(2):
            at = start + dt.timedelta(minutes=turn)
            intent = rng.choice(INTENTS)
            label, score = rng.choice(SENTIMENTS)
            conf = rng.uniform(0.2, 0.99)
            common = {"conversation_id": cid, "created_at": at, "intent": intent, "confidence": conf,
                      "out_of_scope": intent is None, "sources": [], "model": "bench"}
            # executemany needs one set of keys for every row: unused columns are None
            msgs.append({**common, "id": new_id(), "seq": 2 * turn + 1, "role": "user", "content": "question",
                         "sentiment": label, "sentiment_score": score, "route": None, "abstained": False,
                         "timings": {}})
            msgs.append({**common, "id": new_id(), "seq": 2 * turn + 2, "role": "assistant", "content": "answer",
                         "sentiment": None, "sentiment_score": None, "route": "generate",
                         "abstained": rng.random() < 0.05, "timings": {"total_ms": rng.lognormvariate(6, 0.5)}})
    with store.engine.begin() as conn:
        for start in range(0, len(convs), 5000):
            conn.execute(Conversation.__table__.insert(), convs[start:start + 5000])
        for start in range(0, len(msgs), 5000):
            conn.execute(Message.__table__.insert(), msgs[start:start + 5000])


def refresh(store: Store, since: dt.datetime | None, now: dt.datetime) -> dict[str, float]:
    """One console refresh, timed step by step (seconds)."""
    t: dict[str, float] = {}
    cpu = time.process_time()
    start = time.perf_counter()
    df = an.load_frame(store, since=since)
    t["load"] = time.perf_counter() - start
    steps = {
        "sentiment": lambda: (an.sentiment_over_time(df, "hour", "Europe/Amsterdam"), an.sentiment_distribution(df),
                              an.most_negative_conversations(df)),
        "intents": lambda: (an.intent_volume_over_time(df, "hour", "Europe/Amsterdam"), an.top_intents(df),
                            an.review_queue(df, 0.5)),
        "conversations": lambda: an.conversation_summary(df),
        "kpis": lambda: (an.kpis(df), an.kpi_table(df, "day", "Europe/Amsterdam")),
        "surge": lambda: SurgeMonitor(store, ConsoleConfig()).status(now),
    }
    for name, step in steps.items():
        begin = time.perf_counter()
        step()
        t[name] = time.perf_counter() - begin
    t["total"] = sum(t.values())
    t["cpu"] = time.process_time() - cpu  # this process's CPU seconds: less sensitive to a busy machine
    t["messages"] = len(df)
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "console.md")
    args = parser.parse_args()
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for n in tqdm(args.sizes, desc="store sizes"):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{tmp}/bench.db")
            seed(store, n, now, rng)
            for period, since in (("7 days", now - dt.timedelta(days=7)), ("all time", None)):
                runs = [refresh(store, since, now) for _ in range(args.repeat)]
                best = {k: min(r[k] for r in runs) for k in runs[0]}
                rows.append((n, period, best))
            store.close()
    write(args, rows)


def write(args: argparse.Namespace, rows: list[tuple[int, str, dict[str, float]]]) -> None:
    steps = ["load", "sentiment", "intents", "conversations", "kpis", "surge", "total", "cpu"]
    lines = [
        "## Console: dashboard refresh time vs store size",
        "",
        f"- Date: {dt.date.today().isoformat()}; machine: {platform.machine()} {os.cpu_count()}-core CPU, 24 GiB "
        f"(shared: load average {os.getloadavg()[0]:.1f} at the end of the run); SQLite file, Python "
        f"{platform.python_version()}.",
        f"- Command: `.venv/bin/python bench/console.py --sizes {' '.join(map(str, args.sizes))} "
        f"--repeat {args.repeat}`",
        "- Each store holds N two-turn conversations (4 messages each) spread over 30 days; times are the best "
        f"of {args.repeat} runs, in seconds, of one full console refresh for that period: wall time per step, "
        "their total, and the CPU seconds the refresh used (the wall times grow when other jobs share the "
        "2 cores; the CPU column is the steadier measure).",
        "",
        "| conversations | period | messages loaded | " + " | ".join(steps) + " |",
        "|---:|---|---:|" + "---:|" * len(steps),
    ]
    for n, period, t in rows:
        lines.append(f"| {n:,} | {period} | {int(t['messages']):,} | " + " | ".join(f"{t[s]:.2f}" for s in steps)
                     + " |")
    lines += ["", "![refresh time](console.png)", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for period in ("7 days", "all time"):
        pts = [(n, t["total"]) for n, p, t in rows if p == period]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"period: {period}")
    ax.set_xscale("log")
    ax.set_xlabel("conversations in the store")
    ax.set_ylabel("seconds per refresh")
    ax.set_title("Console refresh time (2-core CPU, SQLite)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
