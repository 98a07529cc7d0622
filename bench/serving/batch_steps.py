"""Decode-step cost of the transformers backend's batch at 1, 8 and 16 rows (grounded prompts, greedy).

    python bench/serving/batch_steps.py [--threads 1] [--concat]

Drives assistant/engine/backends/batcher.py's DecodeBatch directly (no event loop consumer): prefill
the rows two at a time, as the worker admits them, then time ten decode steps. --concat measures the
plain DynamicCache (a whole-cache concatenation per step) instead of the in-place SpareLayer.
Prints one line per batch size; the numbers are quoted in docs/bench/serving-notes.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--concat", action="store_true")
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
