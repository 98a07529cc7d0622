"""The answer-text half of `assistant eval answers`: what the customer would read, judged three ways.

- answer similarity: the cosine between the answer and the query's `reference_answer`, both embedded with
  the index's embedding model (the default all-MiniLM-L6-v2), citation markers like [1] stripped first.
  `answer_similarity_mean_all` counts a query with a reference that was not answered (abstention, handoff)
  as 0; `answer_similarity_mean_answered` averages the answered ones only.
- faithfulness: the share of answered replies whose every fact and sentence is found in the passages the
  reply cites (`assistant.engine.answer_checks.faithful`), read whole from the retriever's hits
  (`Source.snippet` is cut at 300 characters). A template reply citing a page the corroborating search did
  not return cannot be checked; `faithfulness_checked` counts the replies that were.
- defects: for every answered reply, the `answer_checks.DEFECTS` it shows, counted per kind, and
  `defective_rate`, the share of answered replies with at least one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.engine import events
from assistant.engine.answer_checks import DEFECTS, defects, faithful

# the routes whose reply answers the customer (events.ANSWERED_ROUTES where the engine names them)
ANSWERED_ROUTES: tuple[str, ...] = tuple(getattr(events, "ANSWERED_ROUTES", ("generate", "template")))
_MARKER = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class _Passage:
    title: str
    text: str


def cited_passages(reply: Any, hits: Sequence[Any] | None) -> list[Any] | None:
    """The full hit behind each of the reply's sources, in citation order; None when one has no hit."""
    if not reply.sources:
        return None
    found = {(h.doc_id, getattr(h, "chunk_id", "")): h for h in reversed(list(hits or []))}
    passages = [found.get((s.doc_id, s.chunk_id)) for s in sorted(reply.sources, key=lambda s: s.index)]
    return None if any(p is None for p in passages) else passages


def judge(reply: Any, question: str, hits: Sequence[Any] | None,
          pages: Mapping[str, Any] | None = None) -> tuple[list[str], bool | None]:
    """(defects, faithful) of an answered reply; faithful is None when a cited passage cannot be read.

    A template is written from whole pages, not from the chunk a search returned: with `pages` (the KB's
    documents by id) it is held to the full text of every page it cites.
    """
    passages = cited_passages(reply, hits)
    if reply.route == "template" and pages and reply.sources and all(s.doc_id in pages for s in reply.sources):
        passages = [_Passage(pages[s.doc_id].title, pages[s.doc_id].text) for s in reply.sources]
    shown = passages if passages is not None else [_Passage(s.title, s.snippet) for s in reply.sources]
    return defects(reply.answer, question, shown), (faithful(reply.answer, passages) if passages else None)


def strip_markers(text: str) -> str:
    return " ".join(_MARKER.sub("", text).split())


def similarities(encode: Callable[[list[str]], np.ndarray], pairs: Sequence[tuple[str, str]]) -> list[float]:
    """Cosine of each (answer, reference) pair, markers stripped; one encoder call for all texts."""
    if not pairs:
        return []
    vectors = np.asarray(encode([strip_markers(t) for pair in pairs for t in pair]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return [round(float(vectors[2 * i] @ vectors[2 * i + 1]), 4) for i in range(len(pairs))]


def add_similarities(outcomes: Sequence[Any], encode: Callable[[list[str]], np.ndarray] | None) -> None:
    """Set `answer_similarity` on every answered outcome with a reference answer (needs the embedder)."""
    todo = [o for o in outcomes if o.answered and o.reference_answer]
    if encode is None or not todo:
        return
    said = [o for o in todo if strip_markers(o.answer)]
    for outcome in todo:
        outcome.answer_similarity = 0.0  # an empty answer says nothing of the reference
    for outcome, value in zip(said, similarities(encode, [(o.answer, o.reference_answer) for o in said]),
                              strict=True):
        outcome.answer_similarity = value


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def text_metrics(outcomes: Sequence[Any]) -> dict[str, Any]:
    """Similarity to the reference answers, faithfulness and defect counts over the answered replies."""
    answered = [o for o in outcomes if o.answered]
    referenced = [o for o in outcomes if o.reference_answer]
    checked = [o.faithful for o in answered if o.faithful is not None]
    # not measured (no embedder) is not 0: both means are None then
    measured = all(o.answer_similarity is not None for o in referenced if o.answered)
    return {
        "answer_similarity_mean_all": _mean([(o.answer_similarity or 0.0) if o.answered else 0.0
                                             for o in referenced]) if measured else None,
        "answer_similarity_mean_answered": _mean([o.answer_similarity for o in referenced
                                                  if o.answered and o.answer_similarity is not None]),
        "reference_answers": len(referenced),
        "faithfulness": _mean([float(f) for f in checked]),
        "faithfulness_checked": len(checked),
        "defective_rate": _mean([float(bool(o.defects)) for o in answered]),
        "defects": {name: sum(name in o.defects for o in answered) for name in DEFECTS},
    }


def plot_text(axes: Sequence[Any], outcomes: Sequence[Any]) -> None:
    """Two panels: the histogram of answer similarity (answered replies) and the defect counts."""
    sims = [o.answer_similarity for o in outcomes if o.answered and o.answer_similarity is not None]
    ax = axes[0]
    ax.hist(sims, bins=np.linspace(-0.2, 1.0, 25), color="tab:blue", edgecolor="white")
    ax.set_xlabel("cosine with the reference answer")
    ax.set_ylabel("answered replies")
    ax.set_title(f"Answer similarity (n={len(sims)})" if sims else "Answer similarity (no reference answers)")
    counts = text_metrics(outcomes)["defects"]
    ax = axes[1]
    bars = ax.barh(list(counts), list(counts.values()), color="tab:red")
    ax.bar_label(bars, padding=2)
    ax.invert_yaxis()
    ax.set_xlabel("answered replies showing it")
    ax.set_title(f"Answer defects ({sum(o.answered for o in outcomes)} answered)")
