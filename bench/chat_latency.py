"""Spine latency benchmark: time to first token, tokens/s and end-to-end latency over sample questions.

    .venv/bin/python bench/chat_latency.py [--questions bench/data/store_questions.jsonl] [--n 20]

Runs the real facade in-process (embedded models, real index, real SQLite in a temp dir),
answers each question once as a new conversation, and writes bench/results/spine.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.facade import Assistant  # noqa: E402
from assistant.engine.settings import Settings  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def run(questions: list[str], settings: Settings) -> list[dict]:
    t = time.perf_counter()
    bot = Assistant.from_settings(settings)
    await bot.start()
    load_s = time.perf_counter() - t
    rows = []
    await bot.chat("warm-up: what are your opening hours?")
    for q in tqdm(questions, desc="questions"):
        reply = await bot.chat(q)
        rows.append({"route": reply.route, "ttft_ms": reply.timings.ttft_ms, "total_ms": reply.timings.total_ms,
                     "tokens": reply.timings.completion_tokens, "tps": reply.timings.tokens_per_second,
                     "retrieval_ms": reply.timings.retrieval_ms})
    await bot.close()
    rows.append({"load_s": load_s})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", default=str(ROOT / "bench/data/store_questions.jsonl"))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    args = ap.parse_args()
    questions = [json.loads(line)["query"] for line in Path(args.questions).read_text().splitlines() if line.strip()]
    questions = questions[: args.n]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), model_cache_dir=ROOT / "var" / "cache",
                            engine={"backend": "transformers", "max_new_tokens": args.max_new_tokens})
        rows = asyncio.run(run(questions, settings))
    load_s = rows.pop()["load_s"]
    gen = [r for r in rows if r["route"] == "generate"]
    routes = {k: sum(1 for r in rows if r["route"] == k) for k in sorted({r["route"] for r in rows})}

    def line(name: str, sel: list[dict]) -> str:
        ttft = [r["ttft_ms"] for r in sel if r["ttft_ms"] is not None]
        total = [r["total_ms"] for r in sel]
        tps = [r["tps"] for r in sel if r["tps"]]
        return (f"| {name} | {len(sel)} | {pct(ttft, 50):.0f} | {pct(ttft, 90):.0f} | {pct(total, 50):.0f} | "
                f"{pct(total, 90):.0f} | {statistics.median(tps) if tps else float('nan'):.1f} |")

    cmd = "python bench/chat_latency.py " + " ".join(sys.argv[1:])
    text = f"""## Spine: chat latency, embedded default (transformers backend, SmolLM2-135M fp32, MiniLM, FAISS)

- date: {dt.date.today().isoformat()}; machine: {platform.machine()} 2-core CPU, 24 GiB, no GPU ({platform.python_version()})
- command: `{cmd.strip()}`
- {len(rows)} sample questions from `{Path(args.questions).relative_to(ROOT)}`, one new conversation each, max_new_tokens={args.max_new_tokens}, greedy.
- load average (1/5/15 min) before: {" / ".join(f"{x:.2f}" for x in load_before)}; after: {" / ".join(f"{x:.2f}" for x in os.getloadavg())} (other jobs on the 2 cores slow everything down).
- routes taken: {routes}; start-up (index + intent model + chat model load) {load_s:.1f} s.

| subset | n | TTFT p50 ms | TTFT p90 ms | end-to-end p50 ms | end-to-end p90 ms | decode tok/s (median) |
| --- | --- | --- | --- | --- | --- | --- |
{line("all questions", rows)}
{line("generated (RAG) answers", gen)}

TTFT is measured from the moment the facade receives the message (understanding + retrieval + prompt prefill included).
Template and abstention replies skip generation (and templates skip retrieval), so they are far faster than RAG answers.
"""
    out = ROOT / "bench/results/spine.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
