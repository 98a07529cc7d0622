"""The Retriever: ingest documents into per-namespace indexes and search them (dense, BM25 or hybrid).

    r = Retriever.open(Path("var/index"), embedding_model, RetrievalConfig())
    r.add_paths([Path("kb/")]); hits = r.search("how do I return shoes?", k=4)

Searches read an immutable Snapshot; a write builds the next one, saves it as a new version
folder and swaps it in atomically, so concurrent searches never see a half-applied ingest.
Other processes' writes are picked up on the next search (CURRENT is checked at most once a second).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.chunker import Chunker
from retrieval.config import RetrievalConfig
from retrieval.dense_index import HnswParams, gpu_available
from retrieval.embedder import Embedder
from retrieval.errors import EmbeddingModelMismatch, InvalidRequest, LoaderError, RetrievalError
from retrieval.fusion import Calibration, FusionParams
from retrieval.loaders import RowProblem, SourceFile, check_base_url, link_documents, load_file, walk
from retrieval.ranker import Ranker
from retrieval.reranker import RERANK_BUDGET_MS, Reranker
from retrieval.schema import Document, Hit, IngestReport
from retrieval.snapshot import Snapshot, Upsert
from retrieval.store import NamespaceStore, check_namespace, list_namespaces, read_json, write_atomic

MODES = ("hybrid", "dense", "bm25")
_REFRESH_S = 1.0

# Tuning, not settings: chosen on the eval sets of docs/benchmarks.md ("Retrieval"); tests patch them here.
CHUNK_SIZE = 800  # characters per chunk (FAQ entries stay whole); store help-centre chunks average ~250
CHUNK_OVERLAP = 120  # characters neighbouring chunks share, so a sentence cut at a boundary is whole in one
# gated score fusion was at least as good as dense-only and BM25-only on every eval set ("Retrieval quality")
MODE = "hybrid"
EMBED_DEVICE = "cpu"  # a query costs ~2.5 ms on a CPU, embedding included ("Ingestion throughput"); GPUs are the chat model's
EMBED_BATCH_SIZE = 0  # 0 = the embedder's own: 4 with onnx on a CPU, 16 with torch, 128 on a GPU (embedder.py)
# auto = onnx float32 on a CPU (torch's vectors at ~2.3x its ingestion speed), else torch. onnx-int8 ingests ~2x
# faster again but shifts scores by CPU ("Float32 vs int8 embeddings"), flipping abstentions near the threshold
EMBED_BACKEND = "auto"
HNSW_THRESHOLD = 20_000  # vectors above which the exact inner-product index becomes HNSW (dense_index.HnswParams)
FAISS_GPU = "auto"  # exact indexes go on the GPU when faiss-gpu and a GPU are there; "off" keeps them on the CPU
MAX_FILE_MB = 25.0  # larger files are refused at ingestion
KEEP_VERSIONS = 2  # index versions kept on disk: the current one, and the previous for readers still on it


class Retriever:
    def __init__(self, index_dir: Path, embedder: Embedder, config: RetrievalConfig) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.config = config
        self.mode = MODE  # search() without a mode
        self.chunker = Chunker(CHUNK_SIZE, CHUNK_OVERLAP)
        self.hnsw = HnswParams()
        self.reranker = Reranker(None)  # none by default; set_reranker() plugs one in
        self.ranker = Ranker(
            FusionParams(), Calibration(), reranker=self.reranker, fragments=getattr(embedder, "fragments", None)
        )
        self._stores: dict[str, NamespaceStore] = {}
        self._snapshots: dict[str, tuple[Snapshot, str | None, float]] = {}
        self._lock = threading.Lock()

    # opening -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        index_dir: Path,
        embedding_model: str,
        config: RetrievalConfig | None = None,
        embedder: Embedder | None = None,
    ) -> Retriever:
        """Open (creating if missing) an index folder; refuse one built with another embedding model."""
        config = config or RetrievalConfig()
        index_dir = Path(index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        embedder = embedder or Embedder(
            embedding_model,
            EMBED_DEVICE,
            EMBED_BATCH_SIZE,
            EMBED_BACKEND,
            Path(config.onnx_cache_dir).expanduser() if config.onnx_cache_dir else None,
        )
        ident = {"name": embedder.name, "spec": embedder.spec, "dims": embedder.dims}
        info_path = index_dir / "index.json"
        if info_path.exists():
            info = read_json(info_path)
            built = info.get("embedding", {})
            stored = np.asarray(built.get("fingerprint", []), dtype=np.float32)
            same = built.get("dims") == embedder.dims and len(stored) == embedder.dims
            if same:
                # int8 and float runtimes of one model agree to ~0.99 on the probe; other models are far lower
                same = float(stored @ embedder.fingerprint) > 0.95
            if not same:
                raise EmbeddingModelMismatch(
                    f"the index in {index_dir} was built with embedding model {built.get('name')!r} "
                    f"({built.get('dims')} dims), not {embedder.name!r} ({embedder.dims} dims): use that model, "
                    "or ingest into a new index folder"
                )
        else:
            info = {
                "format": 1,
                "embedding": {**ident, "fingerprint": [round(float(x), 6) for x in embedder.fingerprint]},
            }
            write_atomic(info_path, json.dumps(info, indent=1))
        return cls(index_dir, embedder, config)

    def close(self) -> None:
        with self._lock:
            self._snapshots.clear()

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # snapshots ---------------------------------------------------------------------------
    def _store(self, namespace: str) -> NamespaceStore:
        check_namespace(namespace)
        with self._lock:
            if namespace not in self._stores:
                self._stores[namespace] = NamespaceStore(self.index_dir, namespace)
            return self._stores[namespace]

    def _gpu(self) -> str:
        return "off" if FAISS_GPU == "off" or not gpu_available() else "on"

    def _load(self, store: NamespaceStore) -> Snapshot:
        current = store.current()
        if current is None:
            return Snapshot.empty(self.embedder.dims, self.hnsw, HNSW_THRESHOLD)
        version, folder = current
        return Snapshot.load(folder, version, HNSW_THRESHOLD, self.hnsw, self._gpu())

    def snapshot(self, namespace: str = "default") -> Snapshot:
        """The namespace's current in-memory index, reloaded if another process published a newer one."""
        store = self._store(namespace)
        now = time.monotonic()
        cached = self._snapshots.get(namespace)
        if cached is not None and now - cached[2] < _REFRESH_S:
            return cached[0]
        marker = store.current_marker()
        if cached is not None and cached[1] == marker:
            self._snapshots[namespace] = (cached[0], marker, now)
            return cached[0]
        with store._thread_lock:  # one loader at a time; writers hold the same lock
            cached = self._snapshots.get(namespace)
            if cached is not None and cached[1] == marker:
                return cached[0]
            snap = self._load(store)
            self._snapshots[namespace] = (snap, marker, now)
            return snap

    # ingesting ---------------------------------------------------------------------------
    def add_paths(
        self, paths: Iterable[Path], namespace: str = "default", progress: bool = True,
        base_url: str | None = None,
    ) -> IngestReport:
        """Ingest files and directories (recursively). A directory is synchronised: documents from
        files that vanished from it are deleted. Unreadable files are reported and left as they were;
        so are bad rows of a FAQ file, reported as ("<path>:<line>", reason) while its good rows go in.
        With `base_url` (a folder published as a website) documents without a link of their own link to
        base_url + their file's id. The new index version is published whole or not at all."""
        started = time.perf_counter()
        base_url = check_base_url(base_url) if base_url else None
        max_bytes = int(MAX_FILE_MB * 1e6)
        errors: list[tuple[str, str]] = []
        docs: list[Document] = []
        seen_sources: dict[str, set[str]] = {}  # source path -> doc ids it produced now
        walked_roots: set[str] = set()
        failed_sources: set[str] = set()
        for item in walk(list(paths)):
            if not isinstance(item, SourceFile):
                errors.append((str(item[0]), item[1]))
                continue
            if item.root is not None:
                walked_roots.add(str(item.root))
            problems: list[RowProblem] = []
            try:
                loaded = load_file(item, max_bytes, problems)
            except (LoaderError, OSError) as exc:
                errors.append((str(item.path), str(exc)))
                failed_sources.add(str(item.path))
                continue
            link_documents(loaded, item, base_url)
            errors += [(f"{item.path}:{p.line}", p.reason) for p in problems]
            # a left-out row's earlier version (if any) stays as it was, like an unreadable file's
            seen_sources[str(item.path)] = {d.id for d in loaded} | {p.doc_id for p in problems if p.doc_id}
            docs += loaded
        snap = self.snapshot(namespace)
        stale = [
            d.id
            for d in snap.docs.values()
            if d.source not in failed_sources
            and (
                (d.source in seen_sources and d.id not in seen_sources[d.source])
                or (d.metadata.get("root") in walked_roots and d.source not in seen_sources)
            )
        ]
        report = self._ingest(docs, stale, namespace, progress, errors)
        report.seconds = time.perf_counter() - started
        return report

    def add_documents(
        self, docs: list[Document], namespace: str = "default", progress: bool = False
    ) -> IngestReport:
        started = time.perf_counter()
        report = self._ingest(list(docs), [], namespace, progress, [])
        report.seconds = time.perf_counter() - started
        return report

    def delete(self, doc_id: str, namespace: str = "default") -> bool:
        if doc_id not in self.snapshot(namespace).docs:
            return False
        return self._ingest([], [doc_id], namespace, False, []).deleted == 1

    def _hash(self, doc: Document) -> str:
        meta = {k: v for k, v in doc.metadata.items() if k not in ("source", "root")}
        payload = json.dumps(
            [doc.title, doc.text, doc.url, meta, self.chunker.signature], sort_keys=True, default=str
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def _ingest(
        self,
        docs: list[Document],
        deletes: list[str],
        namespace: str,
        progress: bool,
        errors: list[tuple[str, str]],
    ) -> IngestReport:
        store = self._store(namespace)
        report = IngestReport(errors=errors)
        with store.writing():
            cached = self._snapshots.get(namespace)
            marker = store.current_marker()
            # start from the newest version on disk: another process may have written since we loaded
            base = cached[0] if cached is not None and cached[1] == marker else self._load(store)
            upserts: list[Upsert] = []
            origin: dict[str, str] = {}
            for doc in docs:
                where = str(doc.metadata.get("source") or doc.id)
                if doc.id in origin:
                    report.errors.append(
                        (where, f"duplicate document id {doc.id!r} (also from {origin[doc.id]})")
                    )
                    continue
                origin[doc.id] = where
                digest = self._hash(doc)
                old = base.docs.get(doc.id)
                if old is not None and old.hash == digest:
                    report.skipped += 1
                    continue
                pieces = self.chunker.split(doc) if doc.text.strip() else []
                if not pieces:
                    report.errors.append((where, f"document {doc.id!r} has no text"))
                    continue
                upserts.append(Upsert(doc, pieces, digest))
                report.chunks += len(pieces)
                if old is None:
                    report.added += 1
                else:
                    report.updated += 1
            deletes = [d for d in dict.fromkeys(deletes) if d in base.docs and d not in origin]
            report.deleted = len(deletes)
            if not upserts and not deletes:
                report.version = base.version
                return report
            snap = base.apply(
                upserts, deletes, self.embedder, HNSW_THRESHOLD, self._gpu(), progress
            )
            snap.meta.update(
                namespace=namespace,
                embedding_model=self.embedder.name,
                dims=self.embedder.dims,
                chunker=self.chunker.signature,
            )
            tmp, final = store.new_version_dir(snap.version)
            snap.save(tmp)
            store.publish(tmp, final, KEEP_VERSIONS)
            with self._lock:
                self._snapshots[namespace] = (snap, store.current_marker(), time.monotonic())
            report.version = snap.version
        return report

    # searching ---------------------------------------------------------------------------
    def search(
        self, query: str, k: int = 4, namespace: str = "default", mode: str | None = None
    ) -> list[Hit]:
        mode = self._check(query, k, mode)
        snap = self.snapshot(namespace)
        if not snap.docs:
            return []
        qvec = None if mode == "bm25" else self.embedder.encode_query(query)
        return self.ranker.rank(snap, query, qvec, k, mode)

    def search_embedded(
        self,
        query: str,
        qvec: np.ndarray | None,
        k: int = 4,
        namespace: str = "default",
        mode: str | None = None,
    ) -> list[Hit]:
        """search() with the query vector computed by the caller (batch embedding; latency benchmarks)."""
        mode = self._check(query, k, mode)
        snap = self.snapshot(namespace)
        return self.ranker.rank(snap, query, qvec, k, mode) if snap.docs else []

    def _check(self, query: str, k: int, mode: str | None) -> str:
        mode = mode or self.mode
        if mode not in MODES:
            raise InvalidRequest(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if not isinstance(query, str) or not query.strip():
            raise InvalidRequest("empty query")
        if not 1 <= k <= 1000:
            raise InvalidRequest(f"k must be between 1 and 1000, got {k}")
        return mode

    def set_reranker(
        self, reranker: Callable[[str, list[str]], list[float]] | None, budget_ms: float | None = None
    ) -> None:
        """Plug a reranker (query, passages) -> scores, e.g. reranker.cross_encoder("cross-encoder/...")."""
        self.ranker.reranker = Reranker(reranker, budget_ms or RERANK_BUDGET_MS)

    # inspecting --------------------------------------------------------------------------
    def documents(self, namespace: str = "default") -> list[dict[str, Any]]:
        return [d.public() for d in sorted(self.snapshot(namespace).docs.values(), key=lambda d: d.id)]

    def namespaces(self) -> list[str]:
        return list_namespaces(self.index_dir)

    def stats(self, namespace: str | None = None) -> dict[str, Any]:
        names = [check_namespace(namespace)] if namespace else self.namespaces()
        per: dict[str, Any] = {}
        for name in names:
            snap = self.snapshot(name)
            per[name] = {
                "documents": len(snap.docs),
                "chunks": snap.live_chunks,
                "index_type": snap.dense.kind,
                "version": snap.version,
                "size_bytes": self._store(name).size_on_disk(),
            }
        return {
            "embedding_model": self.embedder.name,
            "dims": self.embedder.dims,
            "documents": sum(v["documents"] for v in per.values()),
            "chunks": sum(v["chunks"] for v in per.values()),
            "size_bytes": sum(v["size_bytes"] for v in per.values()),
            "index_dir": str(self.index_dir),
            "namespaces": per,
            **(
                {"index_type": per[namespace]["index_type"], "version": per[namespace]["version"]}
                if namespace
                else {}
            ),
        }


__all__ = ["MODES", "Retriever", "RetrievalError"]
