"""IntentPages with a scripted retriever: shares of top hits, one batch embedding, and the cache's keys."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from assistant.engine.intent_pages import IntentPages


class ScriptedRetriever:
    """Top hit per text from a dict; counts embedding batches and searches; the index version can move on."""

    def __init__(self, tops: dict[str, str], mode: str = "hybrid") -> None:
        self.tops, self.version = tops, 1
        self.mode = mode
        self.embedder = self
        self.batches: list[list[str]] = []
        self.searches: list[tuple[str, object, str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.ones((len(texts), 3), dtype=np.float32)

    def snapshot(self, namespace: str) -> SimpleNamespace:
        return SimpleNamespace(version=self.version)

    def search_embedded(self, text: str, vector, k: int, namespace: str) -> list[SimpleNamespace]:
        self.searches.append((text, vector, namespace))
        doc = self.tops.get(text)
        return [SimpleNamespace(doc_id=doc)] if doc else []


def test_shares_are_fractions_of_all_examples_and_cached_per_version_and_examples():
    retriever = ScriptedRetriever({"a1": "tracking", "a2": "tracking", "a3": "missing", "a4": None})
    pages = IntentPages(retriever)
    examples = ["a1", "a2", "a3", "a4"]
    assert pages.shares("track", examples) == {"tracking": 0.5, "missing": 0.25}  # a4 found nothing
    assert retriever.batches == [examples] and len(retriever.searches) == 4
    pages.shares("track", examples)
    assert len(retriever.searches) == 4  # cached
    pages.shares("track", examples, namespace="shop-b")
    assert len(retriever.searches) == 8 and retriever.searches[-1][2] == "shop-b"
    retriever.version = 2  # a knowledge-base write
    pages.shares("track", examples)
    assert len(retriever.searches) == 12
    assert pages.shares("track", ["a3"]) == {"missing": 1.0}  # a retrained model's examples: a new key


def test_no_examples_no_search_and_bm25_needs_no_vectors():
    retriever = ScriptedRetriever({"x": "faq"}, mode="bm25")
    pages = IntentPages(retriever)
    assert pages.shares("greet", []) == {} and pages.shares("greet", ["  "]) == {}
    assert retriever.searches == []
    assert pages.shares("greet", ["x"]) == {"faq": 1.0}
    assert retriever.batches == [] and retriever.searches == [("x", None, "default")]
