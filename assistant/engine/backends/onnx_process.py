"""The process that owns the onnx backend's model: prompt ids and tokens in, next-token logits out.

onnxruntime-genai keeps Python's GIL for the whole of each model call (measured: a 700-token prefill
stopped every other thread of the process for 4.1 s). Run in the server's process, that would freeze
the event loop: no streaming to other chats, no health checks. So the model lives in a child process
(multiprocessing, spawn), and the backend's worker thread waits on a pipe, which releases the GIL.

Protocol, one request at a time, every reply is ("logits", float32 array) or ("error", message):
    ("start", prompt_ids, max_length)  new KV cache, prefill the prompt
    ("append", token)                  one decode step
    ("close",)                         exit
Everything else (sampling, stop strings, detokenising, cancellation) stays in the backend.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
from typing import Any

import numpy as np

from assistant.engine.backends.base import BackendError

START_TIMEOUT_S = 300


def serve(conn: Any, folder: str, threads: int) -> None:
    """Child-process body."""
    try:
        import onnxruntime_genai as og

        config = og.Config(folder)
        config.clear_providers()  # CPU
        if threads:
            options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
            config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        model = og.Model(config)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it at start-up
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    generator = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message[0] == "close":
            return
        try:
            if message[0] == "start":
                generator = None  # free the previous KV cache first
                params = og.GeneratorParams(model)
                params.set_search_options(max_length=message[2])
                generator = og.Generator(model, params)
                generator.append_tokens(np.asarray(message[1], dtype=np.int32))
            elif generator is not None:
                generator.append_tokens(np.asarray([message[1]], dtype=np.int32))
            else:
                raise RuntimeError("append before start")
            conn.send(("logits", generator.get_logits()[0, -1]))
        except Exception as exc:  # noqa: BLE001 - this request fails, the process stays up
            generator = None
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class ModelProcess:
    """The parent's handle: blocking calls, meant for one worker thread."""

    def __init__(self, folder: str, threads: int) -> None:
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

    def _call(self, *message: Any) -> np.ndarray:
        try:
            self._conn.send(message)
        except OSError as exc:
            raise BackendError(f"the onnx model process exited (code {self._process.exitcode})") from exc
        kind, payload = self._receive()
        if kind != "logits":
            raise BackendError(f"onnx model: {payload}")
        return payload

    def start(self, prompt: list[int], max_length: int) -> np.ndarray:
        """Prefill `prompt` into a new KV cache sized for `max_length` tokens; logits of the next token."""
        return self._call("start", prompt, max_length)

    def append(self, token: int) -> np.ndarray:
        return self._call("append", token)

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # already gone: terminate below
                self._conn.send(("close",))
            self._process.join(5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
        self._conn.close()
