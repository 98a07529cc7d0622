"""One namespace's index in memory: chunk table, dense rows, BM25. Immutable once built.

Dense rows are of two kinds: a body row per chunk and a title row per document (a FAQ
entry's question), so question and answer are matched as separate fields. `row_chunk`
maps a row to its chunk (a title row to its document's first chunk). A row is live when
its chunk is. Writes build a new Snapshot with `apply` and `save` it to a new version folder.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.chunker import ChunkText
from retrieval.dense_index import DenseIndex, HnswParams
from retrieval.embedder import Embedder
from retrieval.errors import IndexCorrupt
from retrieval.schema import Document
from retrieval.sparse_index import SparseIndex
from retrieval.store import read_json

FORMAT = 1


@dataclass
class DocEntry:
    id: str
    title: str
    source: str
    url: str | None
    hash: str
    added_at: float
    metadata: dict[str, Any]
    chunks: list[int] = field(default_factory=list)  # chunk rows
    title_row: int = -1

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "chunks": len(self.chunks),
            "hash": self.hash,
            "added_at": self.added_at,
        }


@dataclass(frozen=True)
class ChunkEntry:
    chunk_id: str
    doc_id: str
    section: str | None
    text: str


@dataclass(frozen=True)
class Upsert:
    doc: Document
    pieces: list[ChunkText]
    hash: str


# Markdown marks that carry no words: emphasis, inline-code ticks, table rule rows, list bullets.
# MiniLM reads each `*` or `-` as a token of its own, so they cost ~6% of a help-centre chunk's
# tokens (and embedding time) and add nothing to its meaning; the stored chunk keeps them.
_MARKUP = re.compile(
    r"\*\*|(?<!\w)__|__(?!\w)|`"
    r"|^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$"
    r"|^[ \t]*[-*+][ \t]+",
    re.MULTILINE,
)


def embed_body(title: str, section: str | None, text: str) -> str:
    """What a chunk's body row embeds (and BM25 indexes): its title and section give it context."""
    head = " — ".join(part for part in (title, section) if part)
    text = _MARKUP.sub("", text)
    return f"{head}\n{text}" if head else text


class Snapshot:
    def __init__(
        self,
        version: int,
        docs: dict[str, DocEntry],
        chunks: list[ChunkEntry],
        chunk_live: np.ndarray,
        row_chunk: np.ndarray,
        row_is_title: np.ndarray,
        dense: DenseIndex,
        sparse: SparseIndex,
        meta: dict[str, Any],
    ) -> None:
        self.version = version
        self.docs = docs
        self.chunks = chunks
        self.chunk_live = chunk_live
        self.row_chunk = row_chunk
        self.row_is_title = row_is_title
        self.dense = dense
        self.sparse = sparse
        self.meta = meta
        self.row_live = chunk_live[row_chunk] if len(row_chunk) else np.zeros(0, dtype=bool)
        self.chunk_doc_title_row = np.full(len(chunks), -1, dtype=np.int64)
        self.chunk_body_row = np.full(len(chunks), -1, dtype=np.int64)
        body = np.flatnonzero(~row_is_title)
        self.chunk_body_row[row_chunk[body]] = body
        for doc in docs.values():
            if doc.title_row >= 0:
                self.chunk_doc_title_row[doc.chunks] = doc.title_row

    @classmethod
    def empty(cls, dims: int, params: HnswParams, threshold: int) -> Snapshot:
        dense = DenseIndex.build(np.zeros((0, dims), np.float32), threshold, params)
        z = np.zeros(0, dtype=np.int64)
        return cls(0, {}, [], np.zeros(0, bool), z, np.zeros(0, bool), dense, SparseIndex.empty(), {})

    @property
    def live_chunks(self) -> int:
        return int(self.chunk_live.sum())

    # writing -----------------------------------------------------------------------------
    def apply(
        self,
        upserts: list[Upsert],
        deletes: list[str],
        embedder: Embedder,
        threshold: int,
        gpu: str,
        progress: bool,
    ) -> Snapshot:
        """A new Snapshot with documents replaced/added and `deletes` removed; self is untouched."""
        docs = dict(self.docs)
        chunks = list(self.chunks)
        live = self.chunk_live.copy()
        for doc_id in [*deletes, *(u.doc.id for u in upserts)]:
            old = docs.pop(doc_id, None)
            if old is not None:
                live[old.chunks] = False
        row_chunk = list(self.row_chunk)
        row_is_title = list(self.row_is_title)
        texts: list[str] = []
        now = time.time()
        for up in upserts:
            doc = up.doc
            entry = DocEntry(
                id=doc.id,
                title=doc.title,
                source=str(doc.metadata.get("source") or doc.url or doc.id),
                url=doc.url,
                hash=up.hash,
                added_at=now,
                metadata=dict(doc.metadata),
            )
            for n, piece in enumerate(up.pieces):
                entry.chunks.append(len(chunks))
                chunks.append(ChunkEntry(f"{doc.id}::{n}", doc.id, piece.section, piece.text))
            if doc.title.strip():
                entry.title_row = len(row_chunk)
                row_chunk.append(entry.chunks[0])
                row_is_title.append(True)
                texts.append(doc.title)
            for n, piece in enumerate(up.pieces):
                row_chunk.append(entry.chunks[n])
                row_is_title.append(False)
                texts.append(embed_body(doc.title, piece.section, piece.text))
            docs[doc.id] = entry
        live = np.concatenate([live, np.ones(len(chunks) - len(live), dtype=bool)])
        vectors = embedder.encode(texts, progress=progress)
        dense = self.dense.with_rows(vectors, threshold, gpu, progress)
        new_chunks = chunks[len(self.chunks) :]
        bm25_texts = [embed_body(docs[c.doc_id].title, c.section, c.text) for c in new_chunks]
        sparse = self.sparse.with_changes(bm25_texts, live)
        rows = np.asarray(row_chunk, dtype=np.int64)
        titles = np.asarray(row_is_title, dtype=bool)
        snap = Snapshot(self.version + 1, docs, chunks, live, rows, titles, dense, sparse, dict(self.meta))
        dead = len(rows) - int(snap.row_live.sum())
        if dead and (dense.kind == "flat" or dead > 0.2 * len(rows)):
            snap = snap.compacted(threshold, gpu, progress)
        return snap

    def compacted(self, threshold: int, gpu: str, progress: bool) -> Snapshot:
        """The same content without dead rows (renumbered); HNSW is rebuilt, so only done when worth it."""
        keep_chunks = self.chunk_live
        new_pos = np.cumsum(keep_chunks) - 1
        keep_rows = self.row_live
        rows = new_pos[self.row_chunk[keep_rows]]
        titles = self.row_is_title[keep_rows]
        row_pos = np.cumsum(keep_rows) - 1
        docs = {}
        for doc_id, entry in self.docs.items():
            docs[doc_id] = DocEntry(
                **{**entry.__dict__, "chunks": [int(new_pos[c]) for c in entry.chunks]},
            )
            if entry.title_row >= 0:
                docs[doc_id].title_row = int(row_pos[entry.title_row])
        chunks = [c for c, k in zip(self.chunks, keep_chunks, strict=True) if k]
        dense = DenseIndex.build(self.dense.vectors[keep_rows], threshold, self.dense.params, gpu, progress)
        sparse = self.sparse.compacted(keep_chunks)
        live = np.ones(len(chunks), dtype=bool)
        return Snapshot(self.version, docs, chunks, live, rows, titles, dense, sparse, dict(self.meta))

    # persistence -------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk, alive in zip(self.chunks, self.chunk_live, strict=True):
                row = {
                    "id": chunk.chunk_id,
                    "doc": chunk.doc_id,
                    "section": chunk.section,
                    "text": chunk.text,
                }
                fh.write(json.dumps({**row, "live": bool(alive)}, ensure_ascii=False) + "\n")
        np.save(folder / "rows.npy", np.stack([self.row_chunk, self.row_is_title.astype(np.int64)], axis=1))
        self.dense.save(folder)
        self.sparse.save(folder)
        manifest = {
            **self.meta,
            "format": FORMAT,
            "version": self.version,
            "created_at": time.time(),
            "counts": {"documents": len(self.docs), "chunks": self.live_chunks, "rows": len(self.row_chunk)},
            "dense_index": self.dense.kind,
            "docs": {d.id: {**d.__dict__} for d in self.docs.values()},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, version: int, threshold: int, params: HnswParams, gpu: str) -> Snapshot:
        manifest = read_json(folder / "manifest.json")
        try:
            docs = {k: DocEntry(**v) for k, v in manifest["docs"].items()}
            chunks, live = [], []
            with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    chunks.append(ChunkEntry(row["id"], row["doc"], row["section"], row["text"]))
                    live.append(row["live"])
            rows = np.load(folder / "rows.npy")
            dense = DenseIndex.load(folder, threshold, params, gpu)
            sparse = SparseIndex.load(folder)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise IndexCorrupt(f"index version {folder} is damaged: {exc}") from exc
        if len(rows) != len(dense.vectors) or len(sparse.tokens) != len(chunks):
            raise IndexCorrupt(f"index version {folder} is inconsistent (rows/vectors/chunks differ)")
        meta = {
            k: v
            for k, v in manifest.items()
            if k not in ("docs", "counts", "version", "format", "created_at")
        }
        row_chunk = rows[:, 0].astype(np.int64) if len(rows) else np.zeros(0, np.int64)
        row_is_title = rows[:, 1].astype(bool) if len(rows) else np.zeros(0, bool)
        return cls(
            version, docs, chunks, np.asarray(live, dtype=bool), row_chunk, row_is_title, dense, sparse, meta
        )
