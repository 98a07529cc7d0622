"""The dense vector index: exact inner product (FAISS flat) for small sets, HNSW above a threshold.

Rows are append-only between compactions; a deleted row is masked at search time with an
ID-selector bitmap, because HNSW cannot remove vectors. Objects are never mutated once
published: `with_rows` returns a new index (HNSW is cloned, then extended), so searches on
the previous version keep working during an ingest. Exact indexes move to the GPU when
faiss-gpu and a GPU are there (HNSW stays on the CPU; FAISS has no GPU HNSW).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HnswParams:
    # M=32, efConstruction=80, efSearch=96: recall@10 1.0 at 0.74 ms p50 on 1M vectors (docs/benchmarks.md, "HNSW vs
    # exact search"); efSearch 32 already gave 0.9999 at 0.31 ms
    m: int = 32
    ef_construction: int = 80
    ef_search: int = 96


def gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class DenseIndex:
    """Inner-product search over unit vectors. `vectors` holds every row (dead ones too)."""

    def __init__(self, vectors: np.ndarray, index: faiss.Index, kind: str, params: HnswParams) -> None:
        self.vectors = vectors
        self.index = index
        self.kind = kind
        self.params = params
        self._search_index = index

    # construction ------------------------------------------------------------------------
    @classmethod
    def build(
        cls, vectors: np.ndarray, threshold: int, params: HnswParams, gpu: str = "off", progress: bool = False
    ) -> DenseIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dims = vectors.shape[1]
        if len(vectors) > threshold:
            index = faiss.IndexHNSWFlat(dims, params.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.ef_construction
            index.hnsw.efSearch = params.ef_search
            cls._add_chunked(index, vectors, progress)
            out = cls(vectors, index, "hnsw", params)
        else:
            index = faiss.IndexFlatIP(dims)
            index.add(vectors)
            out = cls(vectors, index, "flat", params)
        out._maybe_gpu(gpu)
        return out

    @staticmethod
    def _add_chunked(index: faiss.Index, vectors: np.ndarray, progress: bool) -> None:
        from tqdm.auto import tqdm

        step = 50_000
        with tqdm(total=len(vectors), desc="HNSW build", unit="vec", disable=not progress) as bar:
            for start in range(0, len(vectors), step):
                index.add(vectors[start : start + step])
                bar.update(min(step, len(vectors) - start))

    def with_rows(
        self, new: np.ndarray, threshold: int, gpu: str = "off", progress: bool = False
    ) -> DenseIndex:
        """A new index holding the current rows plus `new` (the current one is left untouched)."""
        vectors = (
            np.concatenate([self.vectors, np.asarray(new, dtype=np.float32)]) if len(new) else self.vectors
        )
        if self.kind == "flat" or len(vectors) <= threshold:
            return DenseIndex.build(vectors, threshold, self.params, gpu, progress)
        index = faiss.clone_index(self.index)
        index.hnsw.efSearch = self.params.ef_search
        self._add_chunked(index, np.ascontiguousarray(new, dtype=np.float32), progress)
        return DenseIndex(vectors, index, "hnsw", self.params)

    def _maybe_gpu(self, gpu: str) -> None:
        if self.kind != "flat" or gpu == "off" or not gpu_available():
            return
        try:
            self._gpu_res = faiss.StandardGpuResources()
            self._search_index = faiss.index_cpu_to_gpu(self._gpu_res, 0, self.index)
        except Exception as exc:  # a broken CUDA setup must not stop search: stay on the CPU
            log.warning("faiss GPU index unavailable, staying on CPU: %s", exc)
            self._search_index = self.index

    # search ------------------------------------------------------------------------------
    def search(
        self, queries: np.ndarray, k: int, live: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of shape (nq, k); rows are -1 where fewer than k live rows exist."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self.vectors)))
        if len(self.vectors) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        params = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(self.params.ef_search, k)
        if live is not None and not live.all():
            bitmap = np.packbits(live.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(live), faiss.swig_ptr(bitmap))
            params = params or faiss.SearchParameters()
            params.sel = selector
            if self._search_index is not self.index:  # GPU indexes take no selector: over-fetch and filter
                scores, rows = self._search_index.search(queries, min(len(self.vectors), k * 4))
                return _filter_dead(scores, rows, live, k)
            scores, rows = self.index.search(queries, k, params=params)
            del bitmap, selector  # they must outlive the search call above
            return scores, rows
        if params is not None:
            return self.index.search(queries, k, params=params)
        return self._search_index.search(queries, k)

    # persistence -------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        np.save(folder / "vectors.npy", self.vectors)
        if self.kind == "hnsw":
            faiss.write_index(self.index, str(folder / "dense.hnsw.faiss"))

    @classmethod
    def load(cls, folder: Path, threshold: int, params: HnswParams, gpu: str = "off") -> DenseIndex:
        vectors = np.load(folder / "vectors.npy")
        hnsw_file = folder / "dense.hnsw.faiss"
        if hnsw_file.exists():
            index = faiss.read_index(str(hnsw_file))
            index.hnsw.efSearch = params.ef_search
            return cls(vectors, index, "hnsw", params)
        # exact indexes are rebuilt from the vectors: a copy, faster than reading a second file
        return cls.build(vectors, max(threshold, len(vectors)), params, gpu)


def _filter_dead(
    scores: np.ndarray, rows: np.ndarray, live: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    out_s = np.full((len(rows), k), -np.inf, dtype=np.float32)
    out_r = np.full((len(rows), k), -1, dtype=np.int64)
    for q in range(len(rows)):
        keep = [(s, r) for s, r in zip(scores[q], rows[q], strict=True) if r >= 0 and live[r]][:k]
        for j, (s, r) in enumerate(keep):
            out_s[q, j], out_r[q, j] = s, r
    return out_s, out_r
