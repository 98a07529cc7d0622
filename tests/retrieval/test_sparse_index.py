"""BM25 index: incremental writes give the same scores as a fresh build; persistence; coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.sparse_index import SparseIndex

TEXTS = [
    "Standard shipping takes three to five days",
    "Return unworn shoes within thirty days for a refund",
    "Gift cards never expire",
    "Express shipping arrives the next day",
    "退货政策：三十天内可以退货",
]


def test_incremental_build_matches_fresh_build() -> None:
    live = np.ones(3, dtype=bool)
    step = SparseIndex.empty().with_changes(TEXTS[:3], live)
    live = np.array([True, False, True, True, True])  # row 1 deleted, two rows added
    step = step.with_changes(TEXTS[3:], live)
    fresh = SparseIndex.empty().with_changes([TEXTS[i] for i in (0, 2, 3, 4)], np.ones(4, dtype=bool))
    s1, r1 = step.search("shipping days", 5)
    s2, r2 = fresh.search("shipping days", 5)
    assert np.allclose(s1, s2)
    assert [int(r) for r in r1] == [[0, 2, 3, 4][i] for i in r2]
    # the deleted row does match the query ("days") while it is live, and is gone once deleted
    _, with_row1 = SparseIndex.empty().with_changes(TEXTS[:4], np.ones(4, dtype=bool)).search("shipping days", 5)
    assert 1 in with_row1.tolist() and 1 not in r1.tolist()


def test_unknown_words_give_no_hits_and_chinese_matches() -> None:
    index = SparseIndex.empty().with_changes(TEXTS, np.ones(5, dtype=bool))
    assert len(index.search("zebra", 5)[0]) == 0
    _, rows = index.search("退货", 3)
    assert rows[0] == 4


def test_coverage_is_the_matched_share_of_idf_mass() -> None:
    index = SparseIndex.empty().with_changes(TEXTS, np.ones(5, dtype=bool))
    ids = index.query_ids("express shipping")
    cov = index.coverage(ids, index.idf(ids), np.array([3, 0, 2]))
    assert cov[0] == 1.0 and 0 < cov[1] < 0.5 and cov[2] == 0.0


def test_save_load_round_trip(tmp_path: Path) -> None:
    index = SparseIndex.empty().with_changes(TEXTS, np.ones(5, dtype=bool))
    index.save(tmp_path)
    loaded = SparseIndex.load(tmp_path)
    assert loaded.vocab == index.vocab
    s1, r1 = index.search("gift cards", 3)
    s2, r2 = loaded.search("gift cards", 3)
    assert np.allclose(s1, s2) and (r1 == r2).all()
