"""On-disk layout of one namespace: versioned folders, a CURRENT pointer swapped atomically, a write lock.

    <index_dir>/index.json                  embedding model identity, shared by all namespaces
    <index_dir>/ns/<namespace>/CURRENT      name of the live version folder ("v000007")
    <index_dir>/ns/<namespace>/v000007/     manifest.json, chunks.jsonl, vectors.npy, bm25 files
    <index_dir>/ns/<namespace>/.lock        flock held by the one writer

A write fills "v000008.tmp-<pid>", fsyncs it, renames it to "v000008", then replaces CURRENT
(os.replace is atomic) and fsyncs the folder. A kill -9 at any point leaves CURRENT naming a
complete version; leftovers are swept by the next writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retrieval.errors import IndexCorrupt, InvalidRequest

NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VERSION_RE = re.compile(r"^v(\d{6,})$")


def check_namespace(name: str) -> str:
    if not isinstance(name, str) or not NAMESPACE_RE.match(name):
        raise InvalidRequest(
            f"bad namespace {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_tree(folder: Path) -> None:
    for file in folder.rglob("*"):
        if file.is_file():
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())
    for sub in [p for p in folder.rglob("*") if p.is_dir()] + [folder]:
        fsync_dir(sub)


class NamespaceStore:
    """Versions of one namespace on disk."""

    def __init__(self, index_dir: Path, namespace: str) -> None:
        self.namespace = check_namespace(namespace)
        self.folder = index_dir / "ns" / namespace
        self._thread_lock = threading.RLock()

    @property
    def exists(self) -> bool:
        return (self.folder / "CURRENT").exists()

    def current(self) -> tuple[int, Path] | None:
        """(version number, folder) that CURRENT names, or None for a namespace never written."""
        pointer = self.folder / "CURRENT"
        try:
            name = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        match = VERSION_RE.match(name)
        if not match or not (self.folder / name / "manifest.json").exists():
            raise IndexCorrupt(f"{pointer} names {name!r}, which is not a complete index version")
        return int(match.group(1)), self.folder / name

    def current_marker(self) -> str | None:
        try:
            return (self.folder / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive writer: one thread in this process and one process on this folder."""
        with self._thread_lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / ".lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    self._sweep_partial()
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def new_version_dir(self, version: int) -> tuple[Path, Path]:
        final = self.folder / f"v{version:06d}"
        tmp = self.folder / f"v{version:06d}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        if final.exists():  # left by a writer killed between rename and CURRENT: never published
            shutil.rmtree(final)
        tmp.mkdir(parents=True)
        return tmp, final

    def publish(self, tmp: Path, final: Path, keep: int) -> None:
        fsync_tree(tmp)
        os.rename(tmp, final)
        fsync_dir(self.folder)
        write_atomic(self.folder / "CURRENT", final.name + "\n")
        self._prune(keep)

    def _sweep_partial(self) -> None:
        for entry in self.folder.glob("v*.tmp-*"):
            shutil.rmtree(entry, ignore_errors=True)

    def _prune(self, keep: int) -> None:
        current = self.current()
        versions = sorted(
            (int(m.group(1)), p)
            for p in self.folder.iterdir()
            if (m := VERSION_RE.match(p.name)) and p.is_dir()
        )
        live = current[0] if current else -1
        older = [(v, p) for v, p in versions if v < live]
        for _, path in older[: max(0, len(older) - (keep - 1))]:
            shutil.rmtree(path, ignore_errors=True)
        for v, path in versions:
            if v > live:  # published by nobody: a crash between rename and CURRENT
                shutil.rmtree(path, ignore_errors=True)

    def size_on_disk(self) -> int:
        current = self.current()
        if current is None:
            return 0
        return sum(f.stat().st_size for f in current[1].rglob("*") if f.is_file())

    def drop(self) -> None:
        with self.writing():
            shutil.rmtree(self.folder)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"cannot read {path}: {exc}") from exc


def list_namespaces(index_dir: Path) -> list[str]:
    root = index_dir / "ns"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "CURRENT").exists())
