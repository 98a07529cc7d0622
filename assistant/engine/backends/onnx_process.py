"""The process that owns the onnx backend's model: prompt ids and tokens in, next-token logits out.

onnxruntime-genai keeps Python's GIL for the whole of each model call (measured: a 700-token prefill
stopped every other thread of the process for 4.1 s). Run in the server's process, that would freeze
the event loop: no streaming to other chats, no health checks. So the model lives in a child process
(multiprocessing, spawn), and the backend's worker thread waits on a pipe, which releases the GIL.

Protocol, one request at a time, every reply is ("logits", float32 array, reused) or ("error", message):
    ("start", prompt_ids, max_length)  prefill the prompt (reused = prompt tokens served from the KV cache)
    ("append", token)                  one decode step
    ("close",)                         exit
Everything else (sampling, stop strings, detokenising, cancellation) stays in the backend.

Prefix cache: the KV cache of the previous request is kept. A new prompt that starts with the same
tokens (every grounded prompt opens with the same system rules; a conversation's next turn repeats
its history) rewinds the cache to the shared prefix and prefills only the rest. Prefill is
compute-bound at ~420 tokens/s on 2 cores, so each reused token is ~2.4 ms of time to first token.
Rewinding gives the same logits as a fresh prefill (tested).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
from typing import Any

import numpy as np

from assistant.engine.backends.base import BackendError

START_TIMEOUT_S = 300
MIN_CAPACITY = 2048  # KV slots allocated per cache, so that most requests fit and reuse it
MIN_REUSE = 8  # shorter shared prefixes are not worth keeping a cache for


def available_cores() -> int:
    """Cores this process may run on (the container's or taskset's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def shared_prefix(cached: list[int], prompt: list[int]) -> int:
    """Leading tokens `prompt` shares with `cached`; at most len(prompt) - 1, since the last one must be fed."""
    limit = min(len(cached), len(prompt) - 1)
    n = 0
    while n < limit and cached[n] == prompt[n]:
        n += 1
    return n


def serve(conn: Any, folder: str, threads: int) -> None:
    """Child-process body."""
    try:
        import onnxruntime_genai as og

        config = og.Config(folder)
        config.clear_providers()  # CPU
        # engine.threads=0 means every core. Left unset, onnxruntime-genai runs one thread (measured: a
        # 230-token prefill took 945 ms instead of 604 ms with 2 threads).
        options = {"intra_op_num_threads": threads or available_cores(), "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        model = og.Model(config)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it at start-up
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    generator, tokens, capacity = None, [], 0  # tokens: what the KV cache holds
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message[0] == "close":
            return
        try:
            reused = 0
            if message[0] == "start":
                prompt, max_length = list(message[1]), message[2]
                reused = shared_prefix(tokens, prompt) if generator is not None and max_length <= capacity else 0
                if reused >= MIN_REUSE:
                    generator.rewind_to(reused)
                else:
                    reused, generator = 0, None  # free the previous KV cache first
                    capacity = max(max_length, MIN_CAPACITY)
                    params = og.GeneratorParams(model)
                    params.set_search_options(max_length=capacity)
                    generator = og.Generator(model, params)
                tokens = prompt
                generator.append_tokens(np.asarray(prompt[reused:], dtype=np.int32))
            elif generator is not None:
                generator.append_tokens(np.asarray([message[1]], dtype=np.int32))
                tokens.append(message[1])
            else:
                raise RuntimeError("append before start")
            conn.send(("logits", generator.get_logits()[0, -1], reused))
        except Exception as exc:  # noqa: BLE001 - this request fails, the process stays up
            generator, tokens = None, []
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class ModelProcess:
    """The parent's handle: blocking calls, meant for one worker thread."""

    def __init__(self, folder: str, threads: int) -> None:
        self.last_reused = 0
        context = multiprocessing.get_context("spawn")  # fork would copy the server's threads and locks
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child, folder, threads), name="onnx-model",
                                        daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self.close()
            raise BackendError(f"the onnx model process did not start within {START_TIMEOUT_S} s")
        kind, detail = self._receive()
        if kind != "ready":
            self.close()
            raise BackendError(f"the onnx model process could not load {folder}: {detail}")

    def _receive(self) -> tuple[str, Any]:
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            raise BackendError(f"the onnx model process exited (code {self._process.exitcode})") from exc

    def _call(self, *message: Any) -> tuple[np.ndarray, int]:
        try:
            self._conn.send(message)
        except OSError as exc:
            raise BackendError(f"the onnx model process exited (code {self._process.exitcode})") from exc
        kind, payload, *rest = self._receive()
        if kind != "logits":
            raise BackendError(f"onnx model: {payload}")
        return payload, rest[0] if rest else 0

    def start(self, prompt: list[int], max_length: int) -> np.ndarray:
        """Prefill `prompt` (up to `max_length` tokens with the answer); logits of the next token.

        `last_reused` then says how many prompt tokens came from the prefix cache.
        """
        logits, self.last_reused = self._call("start", prompt, max_length)
        return logits

    def append(self, token: int) -> np.ndarray:
        return self._call("append", token)[0]

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # already gone: terminate below
                self._conn.send(("close",))
            self._process.join(5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
        self._conn.close()
