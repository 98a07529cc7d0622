"""Retrieval evaluation: doc-level P@1, MRR@k, nDCG@10, Recall@10 and search latency over a query set.

Used by `assistant eval retrieval` and bench/retrieval*.py. Queries are {"query", "relevant": [ids]};
hits are collapsed to documents (first chunk of a document counts), relevance is binary.
Queries with an empty `relevant` list are unanswerable: they are left out of the ranking
metrics, and the top hit's calibrated score on them is reported (it should be low).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from retrieval.errors import LoaderError
from retrieval.loaders.faq import load_jsonl
from retrieval.schema import Document

METRIC_KEYS = ("p_at_1", "mrr", "ndcg_at_10", "recall_at_10")


@dataclass(frozen=True)
class Query:
    query: str
    relevant: frozenset[str]
    reference_answer: str | None = None  # what a good answer says (`assistant eval answers` compares)
    history: tuple[str, ...] = ()  # the customer's earlier messages in the same chat (`assistant eval answers`)


def load_kb(path: Path) -> list[Document]:
    """KB.jsonl: one {"id","title","text"} per line (FAQ question/answer keys work too)."""
    docs = load_jsonl(Path(path), Path(path).stem)
    for doc in docs:
        doc.metadata.setdefault("source", str(path))
    return docs


def load_queries(path: Path) -> list[Query]:
    out: list[Query] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query, relevant = row["query"], row["relevant"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LoaderError(f'{path}:{n}: expected {{"query": str, "relevant": [ids]}} ({exc})') from exc
        if isinstance(relevant, str):
            relevant = [relevant]
        if not isinstance(query, str) or not query.strip() or not isinstance(relevant, list):
            raise LoaderError(f"{path}:{n}: empty query or relevant is not a list")
        reference = row.get("reference_answer")
        if reference is not None and (not isinstance(reference, str) or not reference.strip()):
            raise LoaderError(f"{path}:{n}: reference_answer must be a non-empty string or null, "
                              f"not {type(reference).__name__} {json.dumps(reference)[:40]}")
        out.append(Query(query, frozenset(str(r) for r in relevant), reference, _history(row, path, n)))
    if not out:
        raise LoaderError(f"{path}: no queries")
    return out


def _history(row: dict[str, Any], path: Path, n: int) -> tuple[str, ...]:
    """Earlier customer messages: ["text", ...] or chat turns [{"role", "content"}, ...] (the user's are kept)."""
    turns = row.get("history") or []
    if not isinstance(turns, list):
        raise LoaderError(f"{path}:{n}: history must be a list of messages")
    said = [t.get("content") if isinstance(t, dict) and t.get("role") == "user" else t
            for t in turns if not (isinstance(t, dict) and t.get("role") != "user")]
    if not all(isinstance(t, str) and t.strip() for t in said):
        raise LoaderError(f"{path}:{n}: history holds a message that is not text")
    return tuple(said)


def doc_ranking(hits: list[Any], depth: int) -> list[str]:
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.doc_id, None)
        if len(seen) == depth:
            break
    return list(seen)


def score_ranking(ranked: list[str], relevant: frozenset[str], k: int) -> dict[str, float]:
    gains = [1.0 if d in relevant else 0.0 for d in ranked]
    first = next((i for i, g in enumerate(gains[:k]) if g), None)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:10]))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return {
        "p_at_1": gains[0] if gains else 0.0,
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "ndcg_at_10": dcg / ideal if ideal else 0.0,
        "recall_at_10": sum(gains[:10]) / len(relevant),
    }


def evaluate(
    search, queries: list[Query], k: int = 10, progress: bool = True, desc: str = "queries"
) -> dict[str, Any]:
    """Run `search(query, n_chunks) -> hits` for every query; mean metrics and latency percentiles."""
    depth = max(k, 10)
    per_query: list[dict[str, float]] = []
    latencies: list[float] = []
    top_scores: dict[bool, list[float]] = {True: [], False: []}
    for q in tqdm(queries, desc=desc, unit="q", disable=not progress):
        started = time.perf_counter()
        hits = search(q.query, depth * 3)
        latencies.append((time.perf_counter() - started) * 1000)
        top_scores[bool(q.relevant)].append(hits[0].score if hits else 0.0)
        if q.relevant:
            per_query.append(score_ranking(doc_ranking(hits, depth), q.relevant, k))
    lat = np.asarray(latencies)
    result: dict[str, Any] = {
        key: float(np.mean([m[key] for m in per_query])) if per_query else 0.0 for key in METRIC_KEYS
    }
    result.update(
        queries=len(per_query),
        k=k,
        latency_ms_p50=float(np.percentile(lat, 50)),
        latency_ms_p99=float(np.percentile(lat, 99)),
        top_score_answerable=float(np.mean(top_scores[True])) if top_scores[True] else None,
    )
    if top_scores[False]:
        result["unanswerable"] = len(top_scores[False])
        result["top_score_unanswerable"] = float(np.mean(top_scores[False]))
    result["per_query"] = per_query
    return result
