"""llama.cpp peer for the engine benchmark: decode speed of the default GGUF through llama-cpp-python.

    .venv-llamacpp/bin/python bench/serving/llamacpp_peer.py --gguf PATH --prompts FILE.json [--threads 2]
        [--levels 1,4,16,64]

Runs in its own venv (llama-cpp-python is a benchmark-only dependency, built from source:
CMAKE_ARGS="-DGGML_NATIVE=ON" pip install --no-binary llama-cpp-python llama-cpp-python==0.3.36),
so it imports nothing from the project. Reads chat prompts (JSON list of message lists), answers them
one after another (a Llama object serves one sequence at a time), and prints one JSON line per request.
With --levels (bench/serving/serving.py), it sends N requests at once per level from N threads that share
the Llama behind a lock, and prints one `RESULT {json}` line with per-request chunk timestamps.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--prompts", required=True, help="JSON file: a list of chat message lists")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--levels", default="", help="concurrency levels, e.g. 1,4,16,64 (serving benchmark)")
    parser.add_argument("--all-levels", default="", help="the run's levels, to find each level's prompts")
    args = parser.parse_args()

    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(model_path=args.gguf, n_ctx=args.ctx, n_threads=args.threads, n_threads_batch=args.threads,
                n_batch=512, verbose=False, seed=0)
    print(json.dumps({"event": "loaded", "seconds": time.perf_counter() - started}), flush=True)
    with open(args.prompts) as f:
        chats = json.load(f)
    if args.levels:
        return serve_levels(llm, chats, [int(x) for x in args.levels.split(",")],
                            [int(x) for x in (args.all_levels or args.levels).split(",")], args.max_tokens,
                            time.perf_counter() - started)
    for messages in chats:
        t0 = time.perf_counter()
        first = None
        text = ""
        for chunk in llm.create_chat_completion(messages=messages, max_tokens=args.max_tokens, temperature=0.0,
                                                stream=True):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                first = first or time.perf_counter()
                text += piece
        end = time.perf_counter()
        tokens = len(llm.tokenize(text.encode(), add_bos=False, special=False))
        print(json.dumps({"event": "done", "start": t0, "first": first or end, "end": end, "tokens": tokens,
                          "text": text[:80]}), flush=True)


def serve_levels(llm: object, chats: list, levels: list[int], all_levels: list[int], max_tokens: int,
                 load_s: float) -> None:
    lock = threading.Lock()

    def one(messages: list) -> dict:
        start, stamps, text = time.perf_counter(), [], ""
        with lock:  # one Llama context decodes one sequence at a time
            for chunk in llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                                    stream=True):
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    stamps.append(time.perf_counter())
                    text += piece
        tokens = len(llm.tokenize(text.encode(), add_bos=False, special=False))
        return {"start": start, "stamps": stamps, "end": time.perf_counter(), "tokens": tokens}

    one(chats[-1])  # warm-up
    out = {"load_s": load_s, "levels": {}}
    offset = 0
    for level in all_levels:  # prompts are laid out per level for every level of the run, in order
        n = max(level, 3)
        if level in levels:
            with ThreadPoolExecutor(max_workers=level) as pool:
                out["levels"][str(level)] = list(pool.map(one, chats[offset:offset + n]))
        offset += n
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
