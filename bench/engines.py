"""Which engine runs the embedded model on a CPU: onnxruntime-genai (the default), llama.cpp, transformers, one run.

    python bench/engines.py [--rounds 5] [--threads 2] [--max-tokens 128]

Each round runs every engine once over the same prompts, one answer at a time, in turn (interleaved,
so drift on the machine hits all alike): the onnx and transformers backends as the server runs them
(their `stream`), llama.cpp through llama-cpp-python on the same GGUF in its own venv
(bench/llamacpp_peer.py; .venv-llamacpp). Per answer: decode tokens/s between its first and last token,
and time to first token. An engine's figure is the median over rounds of its per-round median.
Also reported: how much of llama.cpp's greedy answer each engine reproduces (the 8-bit conversion's
fidelity to the GGUF), the one-off model preparation, and 16 chats at once on the onnx engine.
Writes bench/results/engines.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.backends import GenerationRequest, SamplingParams, create_backend  # noqa: E402
from assistant.engine.models import resolve_chat_model  # noqa: E402
from assistant.engine.settings import Settings  # noqa: E402

QUESTIONS = [
    "Explain in detail how a customer returns a pair of hiking boots that do not fit.",
    "Write a short, friendly message telling a customer their parcel is delayed by two days.",
    "Describe the steps to reset a forgotten account password.",
    "What should I pack for a three-day hike in the mountains? Give a list with reasons.",
    "Explain the difference between a refund and store credit to a customer.",
    "Write a polite reply to a customer whose tent arrived with a broken pole.",
]
SYSTEM = "You are the customer-support assistant of Northwind Outfitters. Be friendly and factual."


def _messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


async def _answer(backend: Any, question: str, max_tokens: int) -> dict:
    request = GenerationRequest(messages=_messages(question), sampling=SamplingParams(max_tokens=max_tokens))
    start, stamps, text = time.perf_counter(), [], ""
    stream = backend.stream(request)
    async for piece in stream:
        stamps.append(time.perf_counter())
        text += piece
    tokens = len(backend._tokenizer(text, add_special_tokens=False)["input_ids"])
    return {"start": start, "first": stamps[0], "last": stamps[-1], "tokens": tokens, "text": text}


async def _run_backend(backend: Any, max_tokens: int) -> list[dict]:
    return [await _answer(backend, q, max_tokens) for q in QUESTIONS]


def _llamacpp(prompts_file: Path, threads: int, max_tokens: int) -> list[dict]:
    python = ROOT / ".venv-llamacpp/bin/python"
    ref = resolve_chat_model("")
    out = subprocess.run([str(python), str(ROOT / "bench/llamacpp_peer.py"), "--gguf", f"{ref.path}/{ref.gguf_file}",
                          "--prompts", str(prompts_file), "--threads", str(threads), "--max-tokens", str(max_tokens)],
                         capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return [r for r in rows if r["event"] == "done"]


def _rates(rows: list[dict]) -> tuple[float, float]:
    """Median decode tokens/s and median time to first token (s) of one round."""
    decode = [(r["tokens"] - 1) / (r["last"] - r["first"]) for r in rows if r["tokens"] > 8 and r["last"] > r["first"]]
    return statistics.median(decode), statistics.median(r["first"] - r["start"] for r in rows)


def _shared_prefix(a: str, b: str) -> float:
    """Share of b's words that a reproduces before the first difference."""
    wa, wb = a.split(), b.split()
    n = 0
    while n < min(len(wa), len(wb)) and wa[n] == wb[n]:
        n += 1
    return n / max(1, len(wb))


async def _batch(backend: Any, chats: int, max_tokens: int) -> dict:
    t0 = time.perf_counter()
    rows = await asyncio.gather(*(_answer(backend, QUESTIONS[i % len(QUESTIONS)] + f" (chat {i})", max_tokens)
                                  for i in range(chats)))
    wall = time.perf_counter() - t0
    return {"tokens_per_s": sum(r["tokens"] for r in rows) / wall,
            "ttft_p50_s": statistics.median(r["first"] - r["start"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    load = os.getloadavg()
    from assistant.engine.backends import base

    base.THREADS = args.threads
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        backends, prep = {}, {}
        for name in ("onnx", "transformers"):
            t0 = time.perf_counter()
            backend = create_backend(Settings(data_dir=Path(tmp), model_cache_dir=cache, engine={"backend": name}))
            asyncio.run(backend.start())
            prep[name] = time.perf_counter() - t0
            backends[name] = backend
        prompts = [backends["onnx"]._tokenizer.apply_chat_template(_messages(q), add_generation_prompt=True,
                                                                    tokenize=False) for q in QUESTIONS]
        prompts_file = Path(tmp) / "prompts.json"
        prompts_file.write_text(json.dumps(prompts))
        rounds: dict[str, list[tuple[float, float]]] = {"onnx": [], "llama.cpp": [], "transformers": []}
        texts: dict[str, list[str]] = {}
        for n in range(args.rounds):
            for name in rounds:
                if name == "llama.cpp":
                    rows = _llamacpp(prompts_file, args.threads, args.max_tokens)
                else:
                    loop = asyncio.new_event_loop()
                    rows = loop.run_until_complete(_run_backend(backends[name], args.max_tokens))
                    loop.close()
                rounds[name].append(_rates(rows))
                texts[name] = [r["text"] for r in rows]
                print(f"round {n + 1} {name}: decode {rounds[name][-1][0]:.1f} tok/s, "
                      f"TTFT {rounds[name][-1][1] * 1000:.0f} ms", flush=True)
        batch = asyncio.run(_batch(backends["onnx"], 16, args.max_tokens))
        for backend in backends.values():
            asyncio.run(backend.close())

    summary = {name: {"decode_tok_s": statistics.median(r[0] for r in rs),
                      "ttft_ms": 1000 * statistics.median(r[1] for r in rs)} for name, rs in rounds.items()}
    for name in summary:
        summary[name]["same_as_llamacpp"] = statistics.mean(
            _shared_prefix(a, b) for a, b in zip(texts[name], texts["llama.cpp"], strict=True))
    peer = summary["llama.cpp"]["decode_tok_s"]
    print(json.dumps({"summary": summary, "prep_s": prep, "onnx_16_chats": batch}, indent=1))

    lines = [
        "## Engines for the embedded model on a CPU: onnxruntime-genai, llama.cpp, transformers",
        "",
        f"Date: {datetime.now().isoformat(timespec='minutes')}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"no GPU; load average before: {[round(x, 2) for x in load]}. Threads: {args.threads} for every engine.",
        f"Command: `python bench/engines.py --rounds {args.rounds} --threads {args.threads} --max-tokens "
        f"{args.max_tokens}` ({len(QUESTIONS)} prompts a round, one answer at a time, greedy; engines interleaved "
        "round by round; figures are medians over rounds).",
        "",
        "| engine | decode tokens/s | vs llama.cpp | time to first token | words of llama.cpp's answer reproduced |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    label = {"onnx": "onnxruntime-genai Engine, 8-bit weights (backend onnx, the CPU default)",
             "llama.cpp": "llama.cpp (llama-cpp-python 0.3.36), the GGUF itself",
             "transformers": "transformers `generate`, fp32 (backend transformers)"}
    for name, s in summary.items():
        lines.append(f"| {label[name]} | {s['decode_tok_s']:.1f} | {s['decode_tok_s'] / peer:.2f}x | "
                     f"{s['ttft_ms']:.0f} ms | {s['same_as_llamacpp']:.0%} |")
    lines += [
        "",
        f"Start-up with an empty model cache (GGUF to Hugging Face folder, then the engine's own preparation): onnx "
        f"{prep['onnx']:.0f} s (includes onnxruntime-genai's model builder), transformers {prep['transformers']:.0f} s "
        "(reuses the folder onnx made).",
        f"16 chats at once on the onnx engine (its static batch): {batch['tokens_per_s']:.0f} tokens/s in all, "
        f"time to first token p50 {batch['ttft_p50_s'] * 1000:.0f} ms.",
        "",
    ]
    (ROOT / "bench/results/engines.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
