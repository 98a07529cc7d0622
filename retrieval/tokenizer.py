"""BM25 tokenisation for any language: words for spaced scripts, jieba for Chinese, bigrams for kana/Thai.

Latin-script words are lower-cased, English stop words dropped and Snowball-stemmed (PyStemmer),
so "cards" matches "card". Chinese has no spaces: jieba's search-mode segmentation emits words
and their sub-words, which keeps recall for partial matches.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN_PLUS

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NOSPACE = "\u3040-\u30ff\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f"  # kana, Thai, Lao, Myanmar
_PIECES = re.compile(rf"([{_HAN}]+)|([{_NOSPACE}]+)|([^\W_{_HAN}{_NOSPACE}]+)")
_STOP = frozenset(STOPWORDS_EN_PLUS)
_jieba_lock = threading.Lock()


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError:  # stemming is a quality bonus, not a requirement
        return None
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:  # jieba builds its dictionary lazily and that is not thread-safe
        jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Tokens for BM25 (the same function for documents and queries)."""
    words: list[str] = []
    tokens: list[str] = []
    for han, nospace, word in _PIECES.findall(text.lower()):
        if han:
            tokens += [t for t in _jieba().cut_for_search(han) if t.strip()]
        elif nospace:
            tokens += (
                [nospace] if len(nospace) == 1 else [nospace[i : i + 2] for i in range(len(nospace) - 1)]
            )
        elif word not in _STOP:
            words.append(word)
    stemmer = _stemmer()
    if stemmer is not None and words:
        words = stemmer.stemWords(words)
    return words + tokens
