"""Dense index: exact vs HNSW, copy-on-write growth, masking deleted rows, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.dense_index import DenseIndex, HnswParams


def _unit(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_small_sets_are_exact_and_large_ones_hnsw() -> None:
    vecs = _unit(300)
    flat = DenseIndex.build(vecs, threshold=1000, params=HnswParams())
    hnsw = DenseIndex.build(vecs, threshold=100, params=HnswParams(m=16, ef_construction=64, ef_search=64))
    assert (flat.kind, hnsw.kind) == ("flat", "hnsw")
    queries = _unit(20, seed=1)
    _, exact = flat.search(queries, 10)
    brute = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    assert (exact == brute).all()
    _, approx = hnsw.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx, exact, strict=True)])
    assert recall >= 0.9


def test_with_rows_leaves_the_published_index_untouched() -> None:
    vecs = _unit(200)
    old = DenseIndex.build(vecs, threshold=100, params=HnswParams(m=16))
    new = old.with_rows(_unit(50, seed=2), threshold=100)
    assert (old.index.ntotal, new.index.ntotal) == (200, 250)
    assert new.kind == "hnsw" and len(new.vectors) == 250


def test_dead_rows_are_never_returned() -> None:
    vecs = _unit(400)
    live = np.ones(400, dtype=bool)
    live[::2] = False
    for threshold in (1000, 100):
        index = DenseIndex.build(vecs, threshold=threshold, params=HnswParams(m=16))
        _, rows = index.search(vecs[:10], 5, live)
        assert live[rows[rows >= 0]].all()
        assert (rows[1::2, 0] == np.arange(1, 10, 2)).all()  # live rows still find themselves


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    vecs = _unit(150)
    for threshold, name in ((1000, "flat"), (100, "hnsw")):
        folder = tmp_path / name
        folder.mkdir()
        index = DenseIndex.build(vecs, threshold=threshold, params=HnswParams(m=16))
        index.save(folder)
        loaded = DenseIndex.load(folder, threshold=threshold, params=HnswParams(m=16))
        assert loaded.kind == name
        assert (loaded.search(vecs[:5], 3)[1] == index.search(vecs[:5], 3)[1]).all()
