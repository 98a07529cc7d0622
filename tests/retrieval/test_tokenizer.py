"""BM25 tokenisation: stemming and stop words for English, jieba for Chinese, bigrams for kana."""

from __future__ import annotations

from retrieval.tokenizer import tokenize


def test_english_is_lowercased_stemmed_and_stopword_free() -> None:
    assert tokenize("How do I return my Cards?") == ["return", "card"]


def test_codes_split_into_matchable_parts() -> None:
    assert tokenize("Error KX-3381") == ["error", "kx", "3381"]


def test_chinese_is_segmented_into_words() -> None:
    tokens = tokenize("退货政策是什么")
    assert "退货" in tokens and "政策" in tokens


def test_japanese_kana_falls_back_to_bigrams() -> None:
    assert tokenize("ありがとう") == ["あり", "りが", "がと", "とう"]
