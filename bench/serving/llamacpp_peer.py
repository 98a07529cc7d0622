"""llama.cpp peer for the engine benchmark: decode speed of the default GGUF through llama-cpp-python.

    .venv-llamacpp/bin/python bench/serving/llamacpp_peer.py --gguf PATH --prompts FILE.json [--threads 2]

Runs in its own venv (llama-cpp-python is a benchmark-only dependency, built from source:
CMAKE_ARGS="-DGGML_NATIVE=ON" pip install --no-binary llama-cpp-python llama-cpp-python==0.3.36),
so it imports nothing from the project. Reads chat prompts (JSON list of message lists), answers them
one after another (a Llama object serves one sequence at a time), and prints one JSON line per request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--prompts", required=True, help="JSON file: a list of chat message lists")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()

    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(model_path=args.gguf, n_ctx=args.ctx, n_threads=args.threads, n_threads_batch=args.threads,
                n_batch=512, verbose=False, seed=0)
    print(json.dumps({"event": "loaded", "seconds": time.perf_counter() - started}), flush=True)
    with open(args.prompts) as f:
        chats = json.load(f)
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


if __name__ == "__main__":
    sys.exit(main())
