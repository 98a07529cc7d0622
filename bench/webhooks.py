"""Handoff webhooks against receivers that fail: how many events are delivered, or recorded as failed, after retries.

    python bench/webhooks.py [--conversations 25] [--dead 5]

A real server (`assistant serve`, fake backend, shipped retry policy: webhooks.ATTEMPTS, BACKOFF_S) and two real
local HTTP receivers: "flaky" answers 500 to the first two attempts of every delivery, then 204; "dead" always
answers 503. Two sites, one per receiver. Each conversation goes through handoff, claim, reply and close over the
HTTP API (4 events). The script then waits until no delivery is pending and compares three counts: the events
it caused, the deliveries the server recorded (GET /v1/webhooks/deliveries), and what each receiver got (with
every signature checked against the site's secret). Writes bench/results/webhooks.md (not committed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine import webhooks  # noqa: E402
from tests.assistant.server.webhook_receiver import Receiver  # noqa: E402
from tests.load.servers import ADMIN, server_env  # noqa: E402
from tests.support import running_server  # noqa: E402
from tests.with_constants import MODULE, constants_env  # noqa: E402

OUT = ROOT / "bench" / "results" / "webhooks.md"
EVENTS_PER_CONVERSATION = 4  # handoff, claim, reply, close


def site(client: httpx.Client, site_id: str, url: str) -> tuple[str, str]:
    """Create the site with its webhook; returns (secret key, webhook secret)."""
    admin = {"X-Admin-Key": ADMIN}
    r = client.post("/v1/admin/sites", json={"id": site_id, "name": site_id, "webhook_url": url}, headers=admin)
    r.raise_for_status()
    key = client.post(f"/v1/admin/sites/{site_id}/keys", json={"name": "bench"}, headers=admin).json()["key"]
    return key, r.json()["webhook_secret"]


def agent_day(client: httpx.Client, key: str, i: int) -> None:
    h = {"Authorization": f"Bearer {key}"}
    cid = client.post("/v1/handoff", json={"message": f"I want a person about order {i}"}, headers=h).json()[
        "conversation_id"]
    for path, body in (("claim", {"agent": "maria"}), ("messages", {"author": "Maria", "text": f"On it ({i})."}),
                       ("close", {"agent": "maria"})):
        client.post(f"/v1/conversations/{cid}/{path}", json=body, headers=h).raise_for_status()


def settle(client: httpx.Client, key: str, expected: int, timeout: float) -> list[dict]:
    """The site's recorded deliveries once none is pending (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = client.get("/v1/webhooks/deliveries", params={"limit": 500},
                          headers={"Authorization": f"Bearer {key}"}).json()
        if (len(rows) >= expected and all(r["status"] != "pending" for r in rows)) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def seconds(row: dict) -> float:
    return (dt.datetime.fromisoformat(row["finished_at"]) - dt.datetime.fromisoformat(row["created_at"])
            ).total_seconds()


def summarize(name: str, caused: int, rows: list[dict], rx: Receiver, secret: str) -> dict:
    delivered = [r for r in rows if r["status"] == "delivered"]
    failed = [r for r in rows if r["status"] == "failed"]
    signed_ok = sum(webhooks.verify(secret, d["body"], d["headers"].get(webhooks.SIGNATURE_HEADER, ""))
                    for d in rx.delivered)
    times = [seconds(r) for r in delivered + failed if r["finished_at"]]
    return {"receiver": name, "events": caused, "recorded": len(rows), "delivered": len(delivered),
            "failed": len(failed), "pending": sum(r["status"] == "pending" for r in rows),
            "received": len(rx.delivered), "signatures_ok": signed_ok, "refused_attempts": rx.refused,
            "attempts": sorted({r["attempts"] for r in rows}),
            "accounted": (len(delivered) + len(failed)) / caused if caused else 1.0,
            "p50_s": statistics.median(times) if times else 0.0, "max_s": max(times, default=0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=25, help="handed-off conversations, flaky receiver")
    parser.add_argument("--dead", type=int, default=5, help="handed-off conversations, dead receiver")
    args = parser.parse_args()
    env = server_env(Path(tempfile.mkdtemp()), **constants_env({"assistant.server.ratelimit:IP_RATE": ""}))
    t0 = time.monotonic()
    with Receiver(fail_first=2) as flaky, Receiver(fail_first=10**9, status=503) as dead, \
            running_server(env, ready_timeout=900, module=MODULE) as (base, _), \
            httpx.Client(base_url=base, timeout=60) as client:
        flaky_key, flaky_secret = site(client, "flaky", flaky.url)
        dead_key, dead_secret = site(client, "dead", dead.url)
        for i in range(args.conversations):
            agent_day(client, flaky_key, i)
        for i in range(args.dead):
            agent_day(client, dead_key, i)
        caused = {"flaky": args.conversations * EVENTS_PER_CONVERSATION, "dead": args.dead * EVENTS_PER_CONVERSATION}
        results = [summarize("flaky (fails 2 attempts)", caused["flaky"],
                             settle(client, flaky_key, caused["flaky"], 600), flaky, flaky_secret),
                   summarize("dead (always 503)", caused["dead"],
                             settle(client, dead_key, caused["dead"], 600), dead, dead_secret)]
    wall = time.monotonic() - t0
    write(results, args, wall)
    print(OUT.read_text())


def write(results: list[dict], args: argparse.Namespace, wall: float) -> None:
    events = sum(r["events"] for r in results)
    accounted = sum(r["delivered"] + r["failed"] for r in results)
    lines = [
        "## Handoff webhooks against failing receivers",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}; real server (fake backend), "
        "receivers on loopback",
        f"- command: `python bench/webhooks.py --conversations {args.conversations} --dead {args.dead}` "
        f"({wall:.0f} s)",
        f"- policy: {webhooks.ATTEMPTS} attempts, exponential backoff from {webhooks.BACKOFF_S} s (tenacity), "
        f"{webhooks.WORKERS} delivery threads",
        "",
        "| receiver | events | recorded | delivered | failed | pending | received | signatures ok | attempts "
        "| delivered or recorded failed | time to outcome p50 s | max s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['receiver']} | {r['events']} | {r['recorded']} | {r['delivered']} | {r['failed']} | "
                     f"{r['pending']} | {r['received']} | {r['signatures_ok']} | "
                     f"{', '.join(map(str, r['attempts']))} | {r['accounted']:.0%} | {r['p50_s']:.2f} | "
                     f"{r['max_s']:.2f} |")
    lines += ["", f"All together: {accounted} of {events} events ({accounted / events:.0%}) delivered or recorded "
              "as failed after retries; none lost or left pending."
              if accounted == events else f"All together: only {accounted} of {events} events accounted for."]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
