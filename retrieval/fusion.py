"""Hybrid fusion of dense and BM25 evidence, gated by rare terms, plus score calibration.

Measured on paraphrased-question FAQ sets (bench/retrieval_quality.py): BM25 alone is 10-20 nDCG
points below MiniLM, and plain 50/50 reciprocal rank fusion lets it pull the dense order down.
BM25 earns its place where the query carries a rare term the embedding model cannot represent
(an error code, SKU or product name split into sub-word pieces): there only exact matching
finds the answer. So:

  * "score" fusion (default): dense cosine + w * (BM25 / best BM25 of the query), with a small
    base w (BM25 breaks near-ties) raised by `rare_term_weight` when the query has a rare term;
  * "rrf" fusion: weighted reciprocal rank fusion with the same gated BM25 weight, kept for
    comparison and for callers who prefer rank-only fusion.

`Calibration` maps the fused evidence to P(relevant) in [0, 1] with a logistic curve fitted on
BANKING77 dev queries (bench/retrieval_calibrate.py), so the answer policy can threshold it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionParams:
    """The shipped fusion is these defaults: gated score fusion was at least as good as dense-only and BM25-only
    on every eval set of docs/benchmarks.md ("Retrieval quality"); bench/retrieval_quality.py compares others,
    bench/retrieval_fusion.py the BM25 weight against the ranker's title weight."""

    method: str = "score"  # score | rrf
    dense_weight: float = 1.0
    bm25_weight: float = 0.1
    rare_term_weight: float = 1.0
    rrf_k: int = 60
    gate: bool = True

    def bm25_share(self, rare_term: bool) -> float:
        return self.bm25_weight + (self.rare_term_weight if self.gate and rare_term else 0.0)


@dataclass(frozen=True)
class Calibration:
    """P(relevant) = sigmoid(slope * evidence + intercept); evidence = dense + w * normalised BM25."""

    slope: float = 7.54  # fitted by bench/retrieval_calibrate.py on BANKING77 dev queries (top 4 hits)
    intercept: float = -6.16

    def __call__(self, evidence: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * evidence + self.intercept)))


def ranks(scores: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of each entry by descending score; absent entries get rank inf."""
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores), dtype=np.float64)
    out[order] = np.arange(1, len(scores) + 1)
    if present is not None:
        out[~present] = np.inf
    return out


def normalised_bm25(bm25: np.ndarray) -> np.ndarray:
    top = bm25.max(initial=0.0)
    return bm25 / top if top > 0 else np.zeros_like(bm25)


def evidence(dense: np.ndarray, bm25: np.ndarray, params: FusionParams, rare_term: bool) -> np.ndarray:
    """The score-fusion value: dense cosine plus the gated share of normalised BM25."""
    return params.dense_weight * dense + params.bm25_share(rare_term) * normalised_bm25(bm25)


def fuse(dense: np.ndarray, bm25: np.ndarray, params: FusionParams, rare_term: bool) -> np.ndarray:
    """Fused ranking key per candidate (higher is better); `bm25` is 0 where BM25 did not retrieve it."""
    if params.method == "rrf":
        share = params.bm25_share(rare_term)
        return params.dense_weight / (params.rrf_k + ranks(dense)) + share / (
            params.rrf_k + ranks(bm25, bm25 > 0)
        )
    return evidence(dense, bm25, params, rare_term)
