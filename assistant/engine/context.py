"""What of the retrieved passages the model reads: the sentences closest to the question, within a budget.

Prefill is compute-bound (~420 prompt tokens/s for the 135M default on 2 cores), so every source token
costs time to first token. Four whole passages made grounded prompts of ~410 tokens (p50, store eval
set) and a first token after ~2 s. The selector keeps the top `passages` hits and, when their text is
longer than `budget_chars`, only their sentences most similar to the question (MiniLM, the retriever's
own encoder), each passage keeping at least its best one, in the passage's own order. The numbering
is unchanged, so `[n]` still names the n-th source of the reply.

Sentence splitting is passage.sentences (the answer composer's too): paragraphs with hard wraps joined, list
items and table rows alone, headings dropped.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.engine.passage import Passage, sentences

log = logging.getLogger(__name__)

Encoder = Callable[[list[str]], np.ndarray]

# What the model reads for a grounded answer: the top 2 passages, cut to their sentences closest to the
# question beyond 450 characters. Against the top 4 whole passages on the store eval set: prompts of 229 vs 412
# tokens (p50), time to first token 506 vs 909 ms (p50, int8 model), source hit@1 0.800 vs 0.817
# (docs/benchmarks.md, "Grounded answers drafted by the model"; the comparison is in its git history).
CONTEXT_PASSAGES = 2
CONTEXT_CHARS = 450  # 0 = whole passages (the prompt builder still caps each one)


@dataclass(frozen=True)
class Excerpt:
    """A passage as the model reads it (the Passage protocol of prompt.py)."""

    title: str
    text: str


class MemoEncoder:
    """An encoder that remembers its recent texts' vectors.

    The answer guard's extractive answer re-reads the sentences the selector has just embedded, with the
    same question, on the turns where it replaces the opening; encoding them again would add to time to
    first token (10 sentences: 61 ms measured on 2 cores).
    """

    def __init__(self, encode: Encoder, size: int = 512) -> None:
        self._encode = encode
        self._size = size
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # chats call in from worker threads

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        fresh = self._encode(missing) if missing else None
        with self._lock:
            for text, vector in zip(missing, fresh if fresh is not None else (), strict=True):
                self._memo[text] = vector
            vectors = [self._memo.get(t) for t in texts]
            for text in texts:
                if text in self._memo:
                    self._memo.move_to_end(text)
            while len(self._memo) > self._size:
                self._memo.popitem(last=False)
        if any(v is None for v in vectors):  # evicted meanwhile by other chats: encode those now
            return self._encode(texts)
        return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)


class SourceSelector:
    def __init__(self, encode: Encoder | None, *, budget_chars: int = CONTEXT_CHARS,
                 passages: int = CONTEXT_PASSAGES) -> None:
        self.encode = encode
        self.budget_chars = budget_chars
        self.passages = passages

    @classmethod
    def from_settings(cls, settings: Any, retriever: Any) -> SourceSelector:
        """Serving's selector (CONTEXT_CHARS / CONTEXT_PASSAGES, the retriever's encoder)."""
        encode = getattr(getattr(retriever, "embedder", None), "encode", None)
        return cls(MemoEncoder(encode) if encode is not None else None,
                   budget_chars=CONTEXT_CHARS, passages=CONTEXT_PASSAGES)

    def select(self, question: str, hits: Sequence[Passage]) -> list[Excerpt]:
        """The first `passages` hits, cut to their sentences closest to `question` when over budget.

        budget_chars=0 or no encoder: the passages whole (the prompt builder still caps each one).
        """
        shown = list(hits[: self.passages])
        whole = [Excerpt(h.title, h.text) for h in shown]
        if not self.budget_chars or self.encode is None or sum(len(h.text) for h in shown) <= self.budget_chars:
            return whole
        split = [sentences(h.text) or [h.text.strip()] for h in shown]
        flat = [(p, i, s) for p, parts in enumerate(split) for i, s in enumerate(parts)]
        vectors = self.encode([question] + [s for _, _, s in flat])
        scores = vectors[1:] @ vectors[0]
        order = sorted(range(len(flat)), key=lambda j: -float(scores[j]))
        chosen: set[int] = set()
        used = 0
        for p in range(len(shown)):  # every shown passage keeps its best sentence, so no [n] is empty
            best = next(j for j in order if flat[j][0] == p)
            chosen.add(best)
            used += len(flat[best][2]) + 1
        for j in order:
            if j not in chosen and used + len(flat[j][2]) + 1 <= self.budget_chars:
                chosen.add(j)
                used += len(flat[j][2]) + 1
        return [Excerpt(h.title, " ".join(flat[j][2] for j in sorted(chosen) if flat[j][0] == p))
                for p, h in enumerate(shown)]

    def select_safely(self, question: str, hits: Sequence[Passage]) -> list[Any]:
        """`select`, or the first `passages` hits whole when the encoder fails: the turn must not be lost."""
        try:
            return self.select(question, hits)
        except Exception:
            log.exception("source selection failed; the model reads the top passages whole")
            return list(hits[: self.passages])
