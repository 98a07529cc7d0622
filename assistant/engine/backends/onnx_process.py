"""The process that owns the onnx backend's model: chats' token ids in, next-token logits out.

The model runs in onnxruntime, which keeps Python's GIL for long stretches of a model call (measured
with onnxruntime-genai: a 700-token prefill stopped every other thread of the process for 4.1 s). Run in
the server's process, that would freeze the event loop: no streaming to other chats, no health checks.
So the model lives in a child process (multiprocessing, spawn), and the backend's worker thread waits
on a pipe, which releases the GIL.

Protocol, one message at a time; every reply is ("logits", payload, reused), ("ok", None, 0) or
("error", message, 0):
    ("add", seq_id, prompt_ids)   prefill a new chat's prompt -> its logits (reused: prompt tokens from
                                  the prefix cache)
    ("step", {seq_id: token})     one decode step of every running chat -> {seq_id: logits}
    ("drop", seq_id)              the chat finished or was cancelled -> ok
    ("reset",)                    forget every chat and cached prefix -> ok
    ("close",)                    exit
The batch and the KV cache are onnx_session.BatchSession's. Everything else (sampling, stop strings,
detokenising, cancellation, admission) stays in the backend.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from typing import Any

from assistant.engine.backends.base import BackendError

START_TIMEOUT_S = 300


def serve(conn: Any, folder: str, threads: int, max_rows: int) -> None:
    """Child-process body."""
    try:
        from assistant.engine.backends.onnx_session import BatchSession

        session = BatchSession(folder, threads, max_rows)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it at start-up
        conn.send(("error", f"{type(exc).__name__}: {exc}", 0))
        return
    conn.send(("ready", None, 0))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        kind = message[0]
        if kind == "close":
            return
        try:
            if kind == "add":
                logits = session.add(message[1], list(message[2]))
                conn.send(("logits", logits, session.last_reused))
            elif kind == "step":
                conn.send(("logits", session.step(message[1]), 0))
            elif kind == "drop":
                session.drop(message[1])
                conn.send(("ok", None, 0))
            elif kind == "reset":
                session.reset()
                conn.send(("ok", None, 0))
            else:
                raise RuntimeError(f"unknown message {kind!r}")
        except Exception as exc:  # noqa: BLE001 - these requests fail, the process stays up
            if kind == "step":
                session.reset()  # a failed step may have written part of the cache
            conn.send(("error", f"{type(exc).__name__}: {exc}", 0))


class ModelProcess:
    """The parent's handle: blocking calls, made by the backend's worker thread.

    Each call is one send and one receive on the pipe, under a lock: a second caller (a shutdown, a test's
    reset) waits its turn instead of interleaving with the worker's call, which would hand each of them the
    other's reply or half a message.
    """

    def __init__(self, folder: str, threads: int, max_rows: int = 1) -> None:
        self.last_reused = 0
        self._lock = threading.Lock()
        context = multiprocessing.get_context("spawn")  # fork would copy the server's threads and locks
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child, folder, threads, max_rows), name="onnx-model",
                                        daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self.close()
            raise BackendError(f"the onnx model process did not start within {START_TIMEOUT_S} s")
        kind, detail, _ = self._receive()
        if kind != "ready":
            self.close()
            raise BackendError(f"the onnx model process could not load {folder}: {detail}")

    def _receive(self) -> tuple[str, Any, int]:
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            raise BackendError(f"the onnx model process exited (code {self._process.exitcode})") from exc

    def _call(self, *message: Any) -> tuple[Any, int]:
        with self._lock:
            try:
                self._conn.send(message)
            except OSError as exc:
                raise BackendError(f"the onnx model process exited (code {self._process.exitcode})") from exc
            kind, payload, reused = self._receive()
        if kind == "error":
            raise BackendError(f"onnx model: {payload}")
        return payload, reused

    def add(self, seq_id: int, prompt: list[int]) -> Any:
        """Prefill a new chat; its next-token logits. `last_reused`: prompt tokens served from the cache."""
        logits, self.last_reused = self._call("add", seq_id, prompt)
        return logits

    def step(self, fed: dict[int, int]) -> dict[int, Any]:
        """One decode step: every running chat's fed token in, each one's next-token logits out."""
        return self._call("step", fed)[0]

    def drop(self, seq_id: int) -> None:
        self._call("drop", seq_id)

    def reset(self) -> None:
        """Forget every chat and cached prefix (only while no chat runs: theirs would be lost)."""
        self._call("reset")

    def close(self) -> None:
        # a call still running gets a few seconds to finish; a hung model process is terminated regardless
        locked = self._lock.acquire(timeout=5)
        try:
            self._close()
        finally:
            if locked:
                self._lock.release()

    def _close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # already gone: terminate below
                self._conn.send(("close",))
            self._process.join(5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
        self._conn.close()
