"""The BM25 index (bm25s), persisted next to the dense one and updated on every write, never per query.

bm25s has no incremental update, and BM25's IDF is global anyway, so each write re-derives the
score matrix from cached token ids: only new chunks are tokenised (jieba is the slow part);
the rebuild is a vectorised pass over ids (about a second per 100K chunks).
Token ids per chunk row are kept (flat array + offsets) so a later write needs no re-tokenising.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bm25s
import numpy as np

from retrieval.tokenizer import tokenize

# bm25s sets its own logger to DEBUG at import, so "Building index from IDs" reached the CLI's
# output on every write; its warnings still come through
logging.getLogger("bm25s").setLevel(logging.WARNING)

EMPTY = ""  # id 0: stands in for a chunk without tokens so bm25s keeps its row


class SparseIndex:
    """BM25 over the live chunk rows. Immutable once built; `with_changes` returns a new one."""

    def __init__(
        self, vocab: dict[str, int], tokens: list[np.ndarray], members: np.ndarray, bm25: bm25s.BM25 | None
    ):
        self.vocab = vocab
        self.tokens = tokens  # per chunk row, dead rows included
        self.members = members  # bm25 doc position -> chunk row
        self.bm25 = bm25
        self.position = np.full(len(tokens), -1, dtype=np.int64)  # chunk row -> bm25 doc position
        self.position[members] = np.arange(len(members))

    @classmethod
    def empty(cls) -> SparseIndex:
        return cls({EMPTY: 0}, [], np.zeros(0, dtype=np.int64), None)

    def with_changes(self, new_texts: list[str], live: np.ndarray) -> SparseIndex:
        """Append rows for `new_texts`, then rebuild BM25 over the rows where `live` is true."""
        vocab = dict(self.vocab)
        tokens = list(self.tokens)
        for text in new_texts:
            ids = [vocab.setdefault(tok, len(vocab)) for tok in tokenize(text)]
            tokens.append(np.asarray(ids or [0], dtype=np.int32))
        if len(tokens) != len(live):
            raise ValueError(f"{len(tokens)} token rows for {len(live)} chunk rows")
        return SparseIndex._build(vocab, tokens, live)

    def compacted(self, keep: np.ndarray) -> SparseIndex:
        """Drop rows where `keep` is false (after the chunk table was compacted the same way)."""
        tokens = [t for t, k in zip(self.tokens, keep, strict=True) if k]
        return SparseIndex._build(self.vocab, tokens, np.ones(len(tokens), dtype=bool))

    @classmethod
    def _build(cls, vocab: dict[str, int], tokens: list[np.ndarray], live: np.ndarray) -> SparseIndex:
        members = np.flatnonzero(live)
        if len(members) == 0:
            return cls(vocab, tokens, members, None)
        bm25 = bm25s.BM25()
        corpus = [tokens[i].tolist() for i in members]
        bm25.index((corpus, dict(vocab)), create_empty_token=False, show_progress=False)
        return cls(vocab, tokens, members, bm25)

    def query_ids(self, query: str) -> np.ndarray:
        """Ids of the query's tokens known to the index (unknown ones cannot match anything)."""
        return np.unique(
            np.asarray([self.vocab[t] for t in tokenize(query) if t in self.vocab], dtype=np.int64)
        )

    def df(self, ids: np.ndarray) -> np.ndarray:
        """Number of live chunks holding each token id."""
        if self.bm25 is None or len(ids) == 0:
            return np.zeros(len(ids), dtype=np.int64)
        indptr = self.bm25.scores["indptr"]
        return indptr[ids + 1] - indptr[ids]

    def idf(self, ids: np.ndarray) -> np.ndarray:
        """BM25 (Lucene) IDF of token ids, from the document frequencies in the score matrix."""
        if self.bm25 is None or len(ids) == 0:
            return np.zeros(len(ids))
        indptr = self.bm25.scores["indptr"]
        n = self.bm25.scores["num_docs"]
        df = (indptr[ids + 1] - indptr[ids]).astype(np.float64)
        return np.log1p((n - df + 0.5) / (df + 0.5))

    def coverage(self, ids: np.ndarray, idf: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per chunk row: the share of the query's IDF mass whose tokens the chunk contains.

        A scatter over the score matrix's columns (which list the chunks holding each token),
        so it costs about as much as one BM25 scoring pass.
        """
        total = idf.sum()
        if self.bm25 is None or total <= 0:
            return np.zeros(len(rows))
        indptr, indices = self.bm25.scores["indptr"], self.bm25.scores["indices"]
        mass = np.zeros(self.bm25.scores["num_docs"])
        for token, weight in zip(ids, idf, strict=True):
            mass[indices[indptr[token] : indptr[token + 1]]] += weight
        pos = self.position[rows]
        return np.where(pos >= 0, mass[np.maximum(pos, 0)], 0.0) / total

    def search(self, query: str, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk rows) of the top-k rows with a positive BM25 score, best first."""
        ids = self.query_ids(query) if ids is None else ids
        if self.bm25 is None or len(ids) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = self.bm25.get_scores_from_ids(ids)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[scores[top] > 0]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top], self.members[top]

    # persistence -------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        lengths = np.array([len(t) for t in self.tokens], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.concatenate(self.tokens).astype(np.int32) if self.tokens else np.zeros(0, np.int32)
        np.save(folder / "bm25_tokens.npy", flat)
        np.save(folder / "bm25_offsets.npy", offsets)
        np.save(folder / "bm25_members.npy", self.members)
        (folder / "bm25_vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False))
        if self.bm25 is not None:
            self.bm25.save(str(folder / "bm25"))

    @classmethod
    def load(cls, folder: Path) -> SparseIndex:
        vocab = json.loads((folder / "bm25_vocab.json").read_text())
        flat = np.load(folder / "bm25_tokens.npy")
        offsets = np.load(folder / "bm25_offsets.npy")
        tokens = [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
        members = np.load(folder / "bm25_members.npy")
        bm25 = bm25s.BM25.load(str(folder / "bm25")) if (folder / "bm25").exists() else None
        return cls(vocab, tokens, members, bm25)
