"""kill -9 during an ingest leaves the previous index loadable and consistent (subprocess test)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrieval import Document, RetrievalConfig, Retriever
from tests.retrieval.conftest import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
BATCH = 200


def _start(index_dir: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.retrieval.crash_child", str(index_dir), mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _wait_for(proc: subprocess.Popen, marker: str, count: int = 1, timeout: float = 120) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while sum(marker in line for line in lines) < count:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"child never printed {marker!r} x{count}: {lines}")
        lines.append(proc.stdout.readline())
    return lines


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()


def _check_consistent(index_dir: Path, committed: int) -> int:
    r = Retriever.open(index_dir, "hashing-test", RetrievalConfig(), embedder=HashingEmbedder())
    snap = r.snapshot()
    docs = len(snap.docs)
    assert docs % BATCH == 0 and docs >= committed * BATCH, (docs, committed)
    assert snap.live_chunks == docs
    assert len(snap.dense.vectors) == len(snap.row_chunk) == 2 * len(snap.chunks)
    assert len(snap.sparse.tokens) == len(snap.chunks)
    last = docs // BATCH - 1
    assert r.search(f"batch {last} note 7 about parcels", k=3)[0].doc_id.startswith(f"b{last}-")
    report = r.add_documents([Document(id="after-crash", text="written after the crash")])
    assert report.added == 1 and r.stats("default")["documents"] == docs + 1
    r.delete("after-crash")
    return docs


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pause-in-save", "pause-before-current"])
def test_kill_during_write_keeps_previous_version(tmp_path: Path, mode: str) -> None:
    index_dir = tmp_path / "index"
    proc = _start(index_dir, mode)
    lines = _wait_for(proc, "PAUSED")
    _kill(proc)
    assert not any("COMMITTED" in line for line in lines)
    # nothing was ever published: the namespace does not exist yet, the folder still opens cleanly
    r = Retriever.open(index_dir, "hashing-test", RetrievalConfig(), embedder=HashingEmbedder())
    assert r.stats()["documents"] == 0 and r.search("parcels") == []
    # a second child commits one batch, then gets killed mid-write of the next
    proc = _start(index_dir, "random")
    _wait_for(proc, "COMMITTED", 1)
    _kill(proc)
    proc = _start(index_dir, mode)
    lines = _wait_for(proc, "PAUSED")
    _kill(proc)
    committed = _check_consistent(index_dir, 1)
    assert committed == BATCH  # the paused write was never published


@pytest.mark.slow
def test_kill_at_random_points_of_an_ingest_loop(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    rng = random.Random(7)
    committed = 0
    for _ in range(3):
        proc = _start(index_dir, "random")
        lines = _wait_for(proc, "COMMITTED", 1)
        time.sleep(rng.uniform(0.0, 0.4))
        _kill(proc)
        committed = (
            _check_consistent(index_dir, committed + sum("COMMITTED" in line for line in lines)) // BATCH
        )
