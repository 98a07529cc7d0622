"""The process that owns the onnx backend's model: chats' token ids in, next-token logits out.

The model runs in onnxruntime, which keeps Python's GIL for long stretches of a model call (measured
with onnxruntime-genai: a 700-token prefill stopped every other thread of the process for 4.1 s). Run in
the server's process, that would freeze the event loop: no streaming to other chats, no health checks.
So the model lives in a child process (multiprocessing, spawn), and the backend's worker thread waits
on a pipe, which releases the GIL.

Protocol, one message at a time; every reply is ("logits", payload, reused), ("rows", {seq_id: row}, reused),
("ok", None, 0) or ("error", message, 0):
    ("add", seq_id, prompt_ids)   prefill a new chat's prompt -> its logits (reused: prompt tokens from
                                  the prefix cache)
    ("step", {seq_id: token})     one decode step of every running chat -> {seq_id: logits}
    ("drop", seq_id)              the chat finished or was cancelled -> ok
    ("reset",)                    forget every chat and cached prefix -> ok
    ("close",)                    exit
The batch and the KV cache are onnx_session.BatchSession's. Everything else (sampling, stop strings,
detokenising, cancellation, admission) stays in the backend.

Logits travel through a shared table, not the pipe: the child writes each row's logits into a
[max_rows, vocab] float32 array both processes map, and replies "rows" with where it put them. Pickled
through the pipe, a row (196 KB for SmolLM2's 49,152-token vocabulary) cost ~0.7 ms of a ~10 ms decode
step. A model whose logits do not fit the table (another vocabulary size) still gets them by the pipe.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant.engine.backends.base import BackendError

START_TIMEOUT_S = 300


def vocab_size(folder: str) -> int:
    """The model's vocabulary size from its genai_config.json; 0 when the file does not say."""
    try:
        return int(json.loads((Path(folder) / "genai_config.json").read_text())["model"]["vocab_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def table_view(shared: Any, vocab: int) -> np.ndarray | None:
    """The shared logits table as a [rows, vocab] float32 array (no copy); None without one."""
    if shared is None or not vocab:
        return None
    return np.frombuffer(shared, dtype=np.float32).reshape(-1, vocab)


def serve(conn: Any, folder: str, threads: int, max_rows: int, shared: Any = None, vocab: int = 0,
          small_decode: bool = True) -> None:
    """Child-process body."""
    try:
        from assistant.engine.backends.onnx_session import BatchSession

        session = BatchSession(folder, threads, max_rows, small_decode)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it at start-up
        conn.send(("error", f"{type(exc).__name__}: {exc}", 0))
        return
    table = table_view(shared, vocab)

    def reply(logits: dict[int, np.ndarray], reused: int) -> tuple[str, Any, int]:
        if table is None or len(logits) > len(table) or any(v.shape != (vocab,) for v in logits.values()):
            return "logits", logits, reused
        for row, values in enumerate(logits.values()):
            table[row] = values
        return "rows", dict(zip(logits, range(len(logits)), strict=True)), reused

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
                conn.send(reply({message[1]: session.add(message[1], list(message[2]))}, session.last_reused))
            elif kind == "step":
                conn.send(reply(session.step(message[1]), 0))
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

    def __init__(self, folder: str, threads: int, max_rows: int = 1, small_decode: bool = True) -> None:
        self.last_reused = 0
        self._lock = threading.Lock()
        context = multiprocessing.get_context("spawn")  # fork would copy the server's threads and locks
        self._conn, child = context.Pipe()
        vocab = vocab_size(folder)
        # mapped by both processes; the child only writes it while the parent waits for its reply
        shared = context.RawArray("f", max(max_rows, 1) * vocab) if vocab else None
        self._table = table_view(shared, vocab)
        self._process = context.Process(target=serve, args=(child, folder, threads, max_rows, shared, vocab, small_decode),
                                        name="onnx-model", daemon=True)
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
            if kind == "rows":  # copied out before the lock lets the next call overwrite the table
                payload = {seq_id: self._table[row].copy() for seq_id, row in payload.items()}
        if kind == "error":
            raise BackendError(f"onnx model: {payload}")
        return payload, reused

    def add(self, seq_id: int, prompt: list[int]) -> Any:
        """Prefill a new chat; its next-token logits. `last_reused`: prompt tokens served from the cache."""
        logits, self.last_reused = self._call("add", seq_id, prompt)
        return logits[seq_id]

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
