"""llama.cpp peer of bench/engines.py: the default GGUF through llama-cpp-python, one answer at a time.

    .venv-llamacpp/bin/python bench/llamacpp_peer.py --gguf PATH --prompts FILE.json [--threads 2] [--max-tokens 128]

Runs in its own venv, so it imports nothing from the project; build it once with
    python3 -m venv .venv-llamacpp && CMAKE_ARGS="-DGGML_NATIVE=ON" .venv-llamacpp/bin/pip install \
        --no-binary llama-cpp-python llama-cpp-python==0.3.36
Reads prompts already rendered with the model's chat template (a JSON list of strings), so every engine
gets the same tokens, and prints one JSON line per answer: start, first and last token times, tokens, text.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--prompts", required=True, help="JSON file: a list of prompt strings")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(model_path=args.gguf, n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads,
                n_batch=512, verbose=False, seed=0)
    print(json.dumps({"event": "loaded", "seconds": time.perf_counter() - started}), flush=True)
    with open(args.prompts) as f:
        prompts = json.load(f)
    for prompt in prompts:
        start, stamps, text = time.perf_counter(), [], ""
        for chunk in llm.create_completion(prompt, max_tokens=args.max_tokens, temperature=0.0, stream=True):
            piece = chunk["choices"][0]["text"]
            stamps.append(time.perf_counter())
            text += piece
        tokens = len(stamps)
        print(json.dumps({"event": "done", "start": start, "first": stamps[0] if stamps else None,
                          "last": stamps[-1] if stamps else None, "tokens": tokens, "text": text}), flush=True)


if __name__ == "__main__":
    main()
