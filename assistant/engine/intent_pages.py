"""Intent pages: where an intent's own training messages land in the knowledge base.

    pages = IntentPages(retriever)
    pages.shares("warranty_claim", examples, "default")   # {"warranty-coverage": 0.35, "repairs-service": 0.27, ...}

Each example message is searched like a customer question; a page's share is the fraction of the
examples whose top hit it is. The answer policy uses it to break near-ties: a confident intent's own page
(the top hit of most of its examples) leads when retrieval scored it just below the top
(AnswerPolicy.intent_page). Shares are cached per namespace, index version and
example set, so a knowledge-base write or a retrained intent model is picked up on the next turn.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

_MAX_CACHED = 4096


class IntentPages:
    def __init__(self, retriever: Any) -> None:
        self.retriever = retriever
        self._cache: dict[tuple, dict[str, float]] = {}
        self._lock = threading.Lock()

    def shares(self, intent: str, examples: list[str], namespace: str = "default") -> dict[str, float]:
        """doc id -> fraction of `examples` whose top search hit is that page (empty without examples)."""
        examples = [e for e in examples if e.strip()]
        if not examples:
            return {}
        key = (namespace, self.retriever.snapshot(namespace).version, intent, hash(tuple(examples)))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        # one batch through the embedder, then one ranking per example (the same fusion a question gets)
        dense = self.retriever.mode != "bm25"
        vectors = self.retriever.embedder.encode(examples) if dense else [None] * len(examples)
        tops = Counter()
        for text, vector in zip(examples, vectors, strict=True):
            hits = self.retriever.search_embedded(text, vector, k=1, namespace=namespace)
            if hits:
                tops[hits[0].doc_id] += 1
        found = {doc_id: n / len(examples) for doc_id, n in tops.items()}
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()  # versions move on; old keys are never asked for again
            self._cache[key] = found
        return found
