"""Turns a query into ranked Hits over one Snapshot: candidate generation, field scoring, fusion, calibration.

Candidates come from the dense index (body rows and title rows; a title hit brings in its
document's chunks) and from BM25. Every candidate then gets exact scores: dense = mix of
the query's similarity to the chunk body and to its document title (the FAQ question),
BM25 and rare-term coverage; the mode decides the order, calibration the reported score.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retrieval.fusion import Calibration, FusionParams, evidence, fuse
from retrieval.reranker import Reranker
from retrieval.schema import Hit
from retrieval.snapshot import Snapshot
from retrieval.tokenizer import tokenize

_TITLE_FANOUT = 16  # chunks of one document brought in by a title match
_WORD = re.compile(r"[^\W_]+")
_RARE_MIN_CHUNKS = 3  # a code repeated on one page may land in a few chunks
_RARE_SHARE = 0.002
# Share of the document-title row (an FAQ's question) in a chunk's dense score: FAQ questions are written the way
# customers ask, bodies are answers. Chosen by bench/retrieval_fusion.py: with fusion.py's BM25 weight, the best
# mean P@1 over four sets, none of them the answer benchmark's questions
TITLE_WEIGHT = 0.15
CANDIDATES = 50  # candidates the dense index and BM25 each pass to fusion (at least 3 x k)


@dataclass(frozen=True)
class Scored:
    chunks: np.ndarray  # chunk rows, best first
    evidence: np.ndarray  # fused evidence (dense mode: cosine; bm25 mode: IDF coverage)
    calibrated: np.ndarray  # P(relevant) in [0, 1]


class Ranker:
    def __init__(
        self,
        fusion: FusionParams,
        calibration: Calibration,
        title_weight: float = TITLE_WEIGHT,
        candidates: int = CANDIDATES,
        reranker: Reranker | None = None,
        fragments: Callable[[str], int] | None = None,
    ) -> None:
        self.fusion = fusion
        self.calibration = calibration
        self.title_weight = title_weight
        self.candidates = candidates
        self.reranker = reranker or Reranker(None)
        self.fragments = fragments

    def rare_term(self, snap: Snapshot, query: str) -> str | None:
        """Does the query hold a word that is rare in this knowledge base (a few chunks at most) and that
        the embedding model cannot represent as one piece? "code" when one has a digit (codes, SKUs), else
        "word" (names, long words), else None."""
        n = len(snap.sparse.members)
        limit = max(_RARE_MIN_CHUNKS, _RARE_SHARE * n)
        found = None
        for word in _WORD.findall(query.lower()):
            tokens = tokenize(word)
            token_id = snap.sparse.vocab.get(tokens[0]) if tokens else None
            if token_id is None:
                continue
            df = int(snap.sparse.df(np.array([token_id]))[0])
            if not 0 < df <= limit:
                continue
            if any(ch.isdigit() for ch in word):
                return "code"
            if found is None and self.fragments is not None and self.fragments(word) > 1:
                found = "word"
        return found

    def candidates_for(self, snap: Snapshot, query: str, qvec: np.ndarray | None, n: int, mode: str):
        found: dict[int, None] = {}
        bm25: dict[int, float] = {}
        ids = idf = None
        if mode != "bm25" and qvec is not None:
            live = snap.row_live if not snap.row_live.all() else None
            _, rows = snap.dense.search(qvec, n, live)
            for row in rows[0]:
                if row < 0:
                    continue
                chunk = int(snap.row_chunk[row])
                if snap.row_is_title[row]:
                    for c in snap.docs[snap.chunks[chunk].doc_id].chunks[:_TITLE_FANOUT]:
                        found[c] = None
                else:
                    found[chunk] = None
        if mode != "dense":
            ids = snap.sparse.query_ids(query)
            idf = snap.sparse.idf(ids)
            scores, rows = snap.sparse.search(query, n, ids)
            for s, r in zip(scores, rows, strict=True):
                bm25[int(r)] = float(s)
                found[int(r)] = None
        return np.fromiter(found, dtype=np.int64, count=len(found)), bm25, ids, idf

    def dense_scores(self, snap: Snapshot, qvec: np.ndarray, cands: np.ndarray) -> np.ndarray:
        vectors = snap.dense.vectors
        body = vectors[snap.chunk_body_row[cands]] @ qvec
        title_rows = snap.chunk_doc_title_row[cands]
        has_title = title_rows >= 0
        out = body.astype(np.float64)
        if has_title.any():
            title = vectors[title_rows[has_title]] @ qvec
            w = self.title_weight
            out[has_title] = (1 - w) * body[has_title] + w * title
        return out

    def score(self, snap: Snapshot, query: str, qvec: np.ndarray | None, mode: str, n: int) -> Scored:
        """All candidates of a query with their evidence and calibrated score, best first."""
        cands, bm25_map, ids, idf = self.candidates_for(snap, query, qvec, n, mode)
        bm25 = np.array([bm25_map.get(int(c), 0.0) for c in cands])
        dense = self.dense_scores(snap, qvec, cands) if qvec is not None else np.zeros(len(cands))
        if mode == "dense":
            order_key = proof = dense
        elif mode == "bm25":
            keep = bm25 > 0
            cands, bm25 = cands[keep], bm25[keep]
            order_key = bm25
            proof = snap.sparse.coverage(ids, idf, cands)
        else:
            rare = self.rare_term(snap, query) if self.fusion.gate else None
            order_key = fuse(dense, bm25, self.fusion, rare is not None)
            # the raised BM25 weight finds the page that holds a rare word, but only a code shows that the page
            # answers: "prepaid phone plan" matched a returns page's "prepaid label" at 0.98 with it in the score
            # (measured on the answer sets: BANKING77 + oos abstain 0.950 -> 0.967, answered 0.970 -> 0.965;
            # store abstain 0.80 -> 0.85; codes unchanged, answered 1.0)
            proof = evidence(dense, bm25, self.fusion, rare == "code")
        # without embeddings the matched share of the query's IDF mass is the best score available
        calibrated = proof if mode == "bm25" else self.calibration(proof)
        order = np.argsort(-order_key, kind="stable")
        return Scored(cands[order], proof[order], calibrated[order])

    def rank(self, snap: Snapshot, query: str, qvec: np.ndarray | None, k: int, mode: str) -> list[Hit]:
        scored = self.score(snap, query, qvec, mode, max(self.candidates, 3 * k))
        order = np.arange(len(scored.chunks))
        if self.reranker.enabled and len(order):
            order = self._rerank(snap, query, scored.chunks, order)
        return [self._hit(snap, int(scored.chunks[i]), float(scored.calibrated[i])) for i in order[:k]]

    def _rerank(self, snap: Snapshot, query: str, cands: np.ndarray, order: np.ndarray) -> np.ndarray:
        passages = [snap.chunks[int(cands[i])].text for i in order]
        scores = self.reranker.scores(query, passages)
        if scores is None:
            return order
        head = order[: len(scores)][np.argsort(-np.asarray(scores), kind="stable")]
        return np.concatenate([head, order[len(scores) :]])

    @staticmethod
    def _hit(snap: Snapshot, chunk_row: int, score: float) -> Hit:
        chunk = snap.chunks[chunk_row]
        doc = snap.docs[chunk.doc_id]
        meta = {k: v for k, v in doc.metadata.items() if k not in ("source", "root")}
        return Hit(
            doc_id=doc.id,
            chunk_id=chunk.chunk_id,
            title=doc.title,
            text=chunk.text,
            score=min(1.0, max(0.0, score)),
            source=doc.source,
            url=doc.url,
            section=chunk.section,
            metadata=meta,
        )
