"""Decode-step cost of a backend's batch at 1, 4, 8 and 16 rows (grounded prompts, greedy).

    python bench/serving/batch_steps.py [--threads 1] [--concat]
    python bench/serving/batch_steps.py --engine onnx --threads 2 --passages 2 --passage-chars 450

transformers: drives assistant/engine/backends/batcher.py's DecodeBatch directly (no event loop consumer): prefill
the rows two at a time, as the worker admits them, then time ten decode steps. --concat measures the
plain DynamicCache (a whole-cache concatenation per step) instead of the in-place SpareLayer.
Prints one line per batch size; the numbers are quoted in docs/bench/serving-notes.md.
onnx: the onnx backend's BatchSession (assistant/engine/backends/onnx_session.py) in-process with the
default w8a8 model: rows prefilled one by one, then 16 timed decode steps; the decode-phase aggregate
(rows / step time) against one row's. Writes docs/bench/onnx-batch.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--concat", action="store_true")
    parser.add_argument("--engine", choices=["transformers", "onnx"], default="transformers")
    parser.add_argument("--passages", type=int, default=3)
    parser.add_argument("--passage-chars", type=int, default=0)
    args = parser.parse_args()
    if args.engine == "onnx":
        return onnx_steps(args)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.cache_utils import DynamicLayer

    from assistant.engine.backends import batcher
    from assistant.engine.backends.base import GenerationRequest, SamplingParams
    from assistant.engine.models import hf_folder, resolve_chat_model
    from bench.serving.engines import prompts

    torch.set_num_threads(args.threads)
    if args.concat:
        batcher.SpareLayer = DynamicLayer
    folder = hf_folder(resolve_chat_model(""), ROOT / "var" / "cache")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    loop = asyncio.new_event_loop()  # never run: the rows' token callbacks just queue up on it
    chats = prompts(16)

    def rows(n: int) -> list[batcher.Sequence]:
        out = []
        for chat in chats[:n]:
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
            ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
            request = GenerationRequest(messages=chat, sampling=SamplingParams(max_tokens=1000))
            out.append(batcher.Sequence(request=request, prompt=ids, max_new=1000, loop=loop, out=asyncio.Queue()))
        return out

    for size in (1, 8, 16):
        batch = batcher.DecodeBatch(model, tokenizer, "cpu", set(), tokenizer.eos_token_id)
        todo = rows(size)
        start = time.perf_counter()
        for i in range(0, size, 2):
            batch.admit(todo[i:i + 2])
        prefill = time.perf_counter() - start
        batch.step()
        start = time.perf_counter()
        for _ in range(10):
            batch.step()
        step = (time.perf_counter() - start) / 10
        print(f"rows={len(batch)} prefill {prefill:.1f}s step {step * 1000:.0f}ms -> {len(batch) / step:.1f} tok/s "
              f"({'concat' if args.concat else 'in-place'} cache, {args.threads} thread(s))", flush=True)


def onnx_steps(args: argparse.Namespace) -> None:
    import numpy as np
    from transformers import AutoTokenizer

    from assistant.engine.backends.onnx_session import BatchSession
    from assistant.engine.models import hf_folder, onnx_folder, resolve_chat_model
    from bench.serving.engines import prompts

    ref = resolve_chat_model("")
    tokenizer = AutoTokenizer.from_pretrained(hf_folder(ref, ROOT / "var" / "cache"))
    folder = onnx_folder(ref, ROOT / "var" / "cache", "w8a8")
    ids = []
    for chat in prompts(16, args.passages, args.passage_chars):
        out = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        ids.append(list(out["input_ids"] if hasattr(out, "keys") else out))
    session = BatchSession(folder, args.threads, 16)
    load = [round(x, 2) for x in os.getloadavg()]
    rows = []
    for size in (1, 4, 8, 16):
        session.reset()
        start = time.perf_counter()
        last = {i: int(session.add(i, ids[i]).argmax()) for i in range(size)}
        prefill = time.perf_counter() - start
        times = []
        for _ in range(16):
            start = time.perf_counter()
            out = session.step(last)
            times.append(time.perf_counter() - start)
            last = {i: int(v.argmax()) for i, v in out.items()}
        step = float(np.median(times))
        rows.append((size, prefill, step))
        print(f"rows={size} prefill {prefill:.2f}s step {1000 * step:.1f}ms -> {size / step:.1f} tok/s", flush=True)
    one = 1 / rows[0][2]
    command = "python bench/serving/batch_steps.py " + " ".join(sys.argv[1:])
    lines = ["## onnx backend: decode-step cost of the batch (BatchSession, w8a8 model)", "",
             f"Date: {dt.datetime.now().isoformat(timespec='minutes')}. Machine: 2-core x86-64 CPU (AVX2), 24 GiB, "
             f"no GPU, shared with other jobs (load before: {load}). "
             f"Command: `{command}`", "",
             f"{args.threads} thread(s); prompts: {np.median([len(i) for i in ids]):.0f} tokens (median), prefilled "
             "one by one (the system rules from the prefix cache after the first); then the median of 16 decode steps.",
             "", "| rows | prefill of the rows | one decode step | decode tok/s | vs one row |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    for size, prefill, step in rows:
        lines.append(f"| {size} | {prefill:.2f} s | {1000 * step:.1f} ms | {size / step:.1f} | {size / step / one:.2f}x |")
    (ROOT / "docs" / "bench" / "onnx-batch.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
