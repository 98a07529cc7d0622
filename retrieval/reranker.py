"""Optional second-stage reranker (a cross-encoder) held to a latency budget.

The hook is any callable (query, passages) -> scores (`Retriever.set_reranker`); `cross_encoder(model)`
wraps a sentence-transformers CrossEncoder. None is plugged in by default: the one second-stage model tried
(all-mpnet-base-v2, docs/benchmarks.md "A second sentence encoder") gained 1 of 60 store questions at seconds
per question on a CPU. The budget is kept by measuring the cost per passage (moving average) and rescoring
only as many top candidates as fit; the rest keep their order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

ScoreFn = Callable[[str, list[str]], list[float]]

RERANK_BUDGET_MS = 150.0  # reranking latency allowed per query, on top of a search's few milliseconds
RERANK_CANDIDATES = 20  # fused candidates rescored at most (of the ranker's CANDIDATES)


class Reranker:
    def __init__(self, fn: ScoreFn | None, budget_ms: float = RERANK_BUDGET_MS,
                 candidates: int = RERANK_CANDIDATES) -> None:
        self.fn = fn
        self.budget_ms = budget_ms
        self.candidates = candidates
        self.ms_per_passage: float | None = None
        self.last_used = 0  # passages rescored by the last call (observability, tests)

    @property
    def enabled(self) -> bool:
        return self.fn is not None

    def plan(self, available: int) -> int:
        """How many top candidates fit the budget (all of `candidates` until a cost is known)."""
        n = min(available, self.candidates)
        if self.ms_per_passage is not None and self.ms_per_passage > 0:
            n = min(n, int(self.budget_ms / self.ms_per_passage))
        return n if n >= 2 else 0

    def scores(self, query: str, passages: list[str]) -> list[float] | None:
        """Scores for the first `plan(len(passages))` passages, or None when reranking is skipped."""
        n = self.plan(len(passages)) if self.fn is not None else 0
        self.last_used = 0
        if n == 0:
            return None
        started = time.perf_counter()
        try:
            out = [float(s) for s in self.fn(query, passages[:n])]
        except Exception as exc:  # a failing reranker must not fail the search: keep the fused order
            log.warning("reranker failed, keeping fused order: %s", exc)
            return None
        cost = (time.perf_counter() - started) * 1000 / n
        self.ms_per_passage = cost if self.ms_per_passage is None else 0.8 * self.ms_per_passage + 0.2 * cost
        self.last_used = n
        return out


def cross_encoder(model: str, device: str = "cpu") -> ScoreFn:
    """A sentence-transformers CrossEncoder (folder or hub id) as a reranker, loaded on first use."""
    return _LazyCrossEncoder(model, device)


class _LazyCrossEncoder:
    """Loads the cross-encoder on first use so opening a Retriever stays fast."""

    def __init__(self, spec: str, device: str) -> None:
        self.spec = spec
        self.device = "cpu" if device == "auto" else device
        self._model = None
        self._lock = threading.Lock()

    def __call__(self, query: str, passages: list[str]) -> list[float]:
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(self.spec, device=self.device)
        return self._model.predict([(query, p) for p in passages], show_progress_bar=False).tolist()
