"""SourceSelector: which sentences of the retrieved passages the model reads (a bag-of-words fake encoder)."""

from __future__ import annotations

import re
import zlib

import numpy as np

from assistant.engine.context import Excerpt, MemoEncoder, SourceSelector


def encode(texts: list[str]) -> np.ndarray:
    """Hashed bag of words, unit length: sentences sharing words with the question score higher."""
    out = np.zeros((len(texts), 256), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", text.lower()):
            if len(word) > 3:
                out[row, zlib.crc32(word.encode()) % 256] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


RETURNS = Excerpt("Returns", "You can return any item within 30 days. The item must be unused. "
                  "Refunds reach your card within 10 working days after the warehouse receives the parcel. "
                  "Sale items are final.")
SHIPPING = Excerpt("Shipping", "Standard shipping takes 3 to 5 working days. Express shipping arrives the next day. "
                   "Parcels to islands take longer.")
GIFTS = Excerpt("Gift cards", "Gift cards never expire.")
QUESTION = "How many working days until the refunds reach my card?"


def test_passages_under_the_budget_are_read_whole_and_only_the_top_ones() -> None:
    picked = SourceSelector(encode, budget_chars=10_000, passages=2).select(QUESTION, [RETURNS, SHIPPING, GIFTS])
    assert picked == [RETURNS, SHIPPING]


def test_over_the_budget_the_closest_sentences_stay_in_their_order_and_each_passage_keeps_one() -> None:
    picked = SourceSelector(encode, budget_chars=150, passages=2).select(QUESTION, [RETURNS, SHIPPING, GIFTS])
    assert [p.title for p in picked] == ["Returns", "Shipping"]
    assert picked[0].text.startswith("Refunds reach your card within 10 working days")
    assert "Sale items" not in picked[0].text and "unused" not in picked[0].text
    assert picked[1].text == "Standard shipping takes 3 to 5 working days."  # its best, though over budget
    assert sum(len(p.text) for p in picked) <= 150 + len(picked[1].text)


def test_leftover_budget_is_filled_and_the_passage_order_of_sentences_is_kept() -> None:
    picked = SourceSelector(encode, budget_chars=260, passages=1).select(QUESTION, [RETURNS])
    text = picked[0].text
    assert "Refunds reach your card" in text and len(text) <= 260
    kept = [s for s in ("You can return", "The item must", "Refunds reach", "Sale items") if s in text]
    assert len(kept) >= 2 and kept == sorted(kept, key=text.index)  # the passage's own order


def test_no_encoder_or_no_budget_means_whole_passages() -> None:
    assert SourceSelector(None, budget_chars=50).select(QUESTION, [RETURNS]) == [RETURNS]
    assert SourceSelector(encode, budget_chars=0).select(QUESTION, [RETURNS]) == [RETURNS]
    assert SourceSelector(encode).select(QUESTION, []) == []


def test_the_memo_encoder_encodes_each_text_once_and_returns_the_same_vectors() -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return encode(texts)

    memo = MemoEncoder(counting, size=3)
    first = memo(["refund days", "shipping", "refund days"])
    again = memo(["shipping", "refund days"])
    assert calls == [["refund days", "shipping"]]  # duplicates and repeats are not encoded again
    assert np.allclose(first[1], again[0]) and np.allclose(first[0], encode(["refund days"])[0])
    memo(["a gift", "a card"])  # size 3: the least recently used text ("shipping") is dropped
    memo(["a card"])
    memo(["shipping"])
    assert calls[1:] == [["a gift", "a card"], ["shipping"]]  # "a card" was still there; "shipping" was not
