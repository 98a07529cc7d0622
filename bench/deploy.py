"""Deployment benchmark: what one app replica costs outside the model, and what the database takes.

    export ASSISTANT_TEST_POSTGRES_URL="$(bash deploy/ci/postgres.sh)"
    .venv/bin/python bench/deploy.py [--turns 400] [--concurrency 8]

1. Store writes: `Store.add_turn` (one user message + one reply, one transaction) on a SQLite file and
   on PostgreSQL over loopback; latency percentiles single-threaded and turns/s with N threads.
2. Server overhead per turn: POST /v1/chat through the real app (auth, rate limits, SSE-free JSON,
   store write, metrics, logs) with the fake backend and fake intent/retrieval, N concurrent clients
   in-process (httpx ASGI transport): the ceiling of one replica when the model costs nothing.
Writes bench/results/deploy.md (date, machine, load average, command).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.settings import Settings  # noqa: E402
from assistant.engine.store import Store  # noqa: E402
from assistant.server.app import create_app  # noqa: E402
from tests.deploy.databases import fresh_postgres_database  # noqa: E402
from tests.deploy.lite_app import lite_factory  # noqa: E402

USER = {"content": "Where is my parcel?", "intent": "track_order", "confidence": 0.8, "sentiment": "neutral"}
BOT = {"content": "It ships within 2 days [1].", "route": "generate", "sources": [{"doc_id": "shipping"}],
       "timings": {"total_ms": 900.0}}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def store_bench(url: str, turns: int, concurrency: int, label: str) -> dict:
    store = Store(url)
    conversations = [store.add_turn(None, "bench", USER, BOT)[0] for _ in range(max(1, turns // 10))]
    latencies = []
    for i in tqdm(range(turns), desc=f"{label}: serial turns", leave=False):
        t = time.perf_counter()
        store.add_turn(conversations[i % len(conversations)], "bench", USER, BOT)
        latencies.append((time.perf_counter() - t) * 1000)
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(tqdm(pool.map(lambda i: store.add_turn(conversations[i % len(conversations)], "bench", USER, BOT),
                           range(turns)), total=turns, desc=f"{label}: {concurrency} threads", leave=False))
    parallel = turns / (time.perf_counter() - start)
    store.close()
    return {"label": label, "p50": pct(latencies, 50), "p95": pct(latencies, 95),
            "serial": 1000 / float(np.mean(latencies)), "parallel": parallel}


async def server_bench(url: str, turns: int, concurrency: int, data_dir: Path) -> dict:
    settings = Settings(data_dir=data_dir, database_url=url, engine={"backend": "fake"},
                        server={"startup_wait_seconds": 0, "log_level": "warning"})
    app = create_app(settings, factory=lite_factory)
    async with app.router.lifespan_context(app):
        while not app.state.app_state.ready:
            assert app.state.app_state.error is None, app.state.app_state.error
            await asyncio.sleep(0.05)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            latencies: list[float] = []
            gate = asyncio.Semaphore(concurrency)
            bar = tqdm(total=turns, desc=f"server: {concurrency} clients", leave=False)

            async def one() -> None:
                async with gate:
                    t = time.perf_counter()
                    r = await client.post("/v1/chat", json={"message": "How long do refunds take?"})
                    assert r.status_code == 200, r.text
                    latencies.append((time.perf_counter() - t) * 1000)
                    bar.update()

            start = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(turns)))
            elapsed = time.perf_counter() - start
            bar.close()
    return {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "rate": turns / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not os.environ.get("ASSISTANT_TEST_POSTGRES_URL"):
        sys.exit("set ASSISTANT_TEST_POSTGRES_URL first: export ASSISTANT_TEST_POSTGRES_URL=\"$(bash deploy/ci/postgres.sh)\"")
    load_before = os.getloadavg()[0]
    rows, servers = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(store_bench(f"sqlite:///{tmp}/bench.db", args.turns, args.concurrency, "SQLite (file, WAL)"))
        with fresh_postgres_database() as url:
            rows.append(store_bench(url, args.turns, args.concurrency, "PostgreSQL 15 (loopback)"))
        servers["SQLite"] = asyncio.run(server_bench(f"sqlite:///{tmp}/server.db", args.turns, args.concurrency,
                                                     Path(tmp)))
        with fresh_postgres_database() as url:
            servers["PostgreSQL"] = asyncio.run(server_bench(url, args.turns, args.concurrency, Path(tmp)))
    load_after = os.getloadavg()[0]

    command = f".venv/bin/python bench/deploy.py --turns {args.turns} --concurrency {args.concurrency}"
    lines = [
        "## Deployment: store writes and per-turn server overhead",
        "",
        f"Date {dt.date.today()}, machine: {platform.machine()} {os.cpu_count()}-core CPU, 24 GiB, no GPU; "
        f"load average {load_before:.1f} before / {load_after:.1f} after (other jobs shared the cores).",
        f"Command: `export ASSISTANT_TEST_POSTGRES_URL=\"$(bash deploy/ci/postgres.sh)\"; {command}`",
        "",
        f"Store.add_turn (one transaction: 2 messages + conversation update), {args.turns} turns:",
        "",
        f"| database | p50 ms | p95 ms | turns/s serial | turns/s, {args.concurrency} threads |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[f"| {r['label']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['serial']:.0f} | {r['parallel']:.0f} |" for r in rows],
        "",
        f"POST /v1/chat through the whole app with a zero-cost model (fake backend, fake intent and retrieval), "
        f"{args.concurrency} concurrent in-process clients, {args.turns} turns:",
        "",
        "| database | p50 ms | p95 ms | turns/s per replica |",
        "| --- | ---: | ---: | ---: |",
        *[f"| {name} | {s['p50']:.1f} | {s['p95']:.1f} | {s['rate']:.0f} |" for name, s in servers.items()],
        "",
        "Read: this is the app's own work per turn (HTTP, auth, rate limits, store write, metrics, logs) with "
        "the model, intent and retrieval costing nothing - a ceiling per replica, to set against the per-turn "
        "model and retrieval times in the other sections. Under a high load average, treat it as a lower bound.",
    ]
    out = ROOT / "bench" / "results" / "deploy.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
