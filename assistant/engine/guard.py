"""The answer guard: stops a degenerate opening before it streams, and the extractive answer that replaces it.

A small model (the 135M default) sometimes opens a grounded answer by listing the source titles
("1. International shipping and customs\\n2. ...") or by repeating the question. Measured on the
store eval set (docs/benchmarks.md, "Answer guard"), that was 13 of its 42 generated
answers. The guard reads the opening as it streams and decides as early as it can:

- as soon as the opening can no longer become a title or the question, it is released (for most
  answers that is the first word, so the first token is not held back noticeably);
- if its first line turns out to be a source title, or the question itself, generation stops and
  the reply is the extractive answer instead: the passage sentence closest to the question, cited.
  An opening "[n]" followed by a title's first two words is decided then, without waiting for the
  line to end.

The facade uses both (facade.py). `extractive_answer` also replaces the old opening-sentences fallback
when the model says nothing usable, and `needs_citation` adds it after a finished answer that cites
no source, so every grounded reply carries at least one sentence a customer can check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

_MARKER = re.compile(r"^\s*(?:\[\d+\]|\(\d+\)|\d+[.)]|[-*•>])\s*")
_STYLE = re.compile(r"[*_#>`\"'“”]")
_PARTIAL_MARKER = re.compile(r"^\s*(?:\[\d*|\(\d*|\d+)$")
_EMPHASIS = re.compile(r"[*#`]")  # markdown that means nothing in a plain sentence; ">" inside a menu path stays
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"“])")
_MIN_SENTENCE = 25
_CITATION = re.compile(r"\[\d+\]")
_CITED_OPENING = re.compile(r"^\s*\[\d+\]")
_EARLY_TITLE_WORDS = 2


class Passage(Protocol):
    title: str
    text: str


def _norm(text: str) -> str:
    text = _STYLE.sub("", text.lower())
    return " ".join(text.split()).strip(" .,:;!?")


def _opening(text: str) -> tuple[str, bool]:
    """The first non-empty line without its list marker or markdown, and whether that line is complete."""
    stripped = text.lstrip()
    line, newline, _ = stripped.partition("\n")
    # repeat: "[1] 1. Title" happens
    previous = None
    while previous != line:
        previous, line = line, _MARKER.sub("", line, count=1)
    return _norm(line), bool(newline)


class OpeningGuard:
    """Judges a streamed answer's opening against the source titles and the question."""

    def __init__(self, question: str, passages: Sequence[Passage]) -> None:
        self.question = _norm(question)
        self.titles = {t for t in (_norm(p.title) for p in passages) if t}

    def judge(self, text: str, finished: bool = False) -> str | None:
        """None while undecided; "ok" to release the text; else the reason to replace it."""
        opening, complete = _opening(text)
        complete = complete or finished
        if self.question and opening == self.question and (complete or text.rstrip().endswith("?")):
            return "question echo"
        if complete and opening in self.titles:
            return "title echo"
        if not opening:
            return "ok" if finished else None
        if complete:
            return "ok"
        if (_CITED_OPENING.match(text) and len(opening.split()) >= _EARLY_TITLE_WORDS
                and any(t.startswith(opening) for t in self.titles) and not self.question.startswith(opening)):
            # "[1] International shipping" is the model reading out its sources, not an answer: stop now
            # rather than after the whole title (store set: grounded TTFT p50 549 -> 526 ms, same hits).
            # Only after a [n] marker: a numbered step ("1. Track your order in the app") may open so.
            return "title echo"
        if _PARTIAL_MARKER.match(text):
            return None  # "[" or "1" may still become the "[1] " / "1. " of a title list
        candidates = [*self.titles, self.question]
        return None if any(c.startswith(opening) for c in candidates) else "ok"


def needs_citation(answer: str) -> bool:
    """A finished, non-empty answer with no `[n]` marker."""
    return bool(answer.strip()) and _CITATION.search(answer) is None


def quoted_from(answer: str, passages: Sequence[Passage]) -> int | None:
    """The number of the first passage that contains the answer word for word (markdown aside), if any."""
    said = _norm(answer)
    for number, passage in enumerate(passages, start=1):
        if said and said in _norm(passage.text):
            return number
    return None


def _units(text: str) -> list[str]:
    """Paragraphs with their hard line wraps joined; list items and table rows stand alone."""
    units: list[str] = []
    paragraph: list[str] = []
    for raw in [*text.splitlines(), ""]:
        line = raw.strip()
        item = _MARKER.match(line) is not None or line.startswith(("|", "#"))
        if (not line or item) and paragraph:
            units.append(" ".join(paragraph))
            paragraph = []
        if line.startswith("#"):
            continue  # a heading names a topic; it answers nothing
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):  # not the |---| separator row
                units.append(" – ".join(c for c in cells if c))
        elif item:
            units.append(_MARKER.sub("", line))
        elif line:
            paragraph.append(line)
    return units


def sentences(text: str) -> list[str]:
    """A passage's sentences, markdown emphasis removed (headings dropped, table rows as sentences)."""
    out: list[str] = []
    for unit in _units(text):
        unit = _EMPHASIS.sub("", unit).strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(unit) if s.strip())
    return out


def extractive_answer(question: str, passages: Sequence[Passage],
                      encode: Callable[[list[str]], np.ndarray] | None, *, max_passages: int = 1,
                      max_chars: int = 300) -> str:
    """The passage sentence closest to the question (plus the next one when it is short), cited as [n].

    Sentences come from the top `max_passages` passages (by default the top one: retrieval's ranking is
    better evidence of the right page than one sentence's similarity); with no encoder, the opening.
    The words are the passage's own, so the answer stays grounded whatever the model did.
    """
    candidates: list[tuple[int, int, str]] = []  # (passage number, sentence index, sentence)
    for number, passage in enumerate(passages[:max_passages], start=1):
        for i, sentence in enumerate(sentences(passage.text)):
            if len(sentence) >= _MIN_SENTENCE and _norm(sentence) != _norm(passage.title):
                candidates.append((number, i, sentence))
    if not candidates:
        return ""
    best = 0
    if encode is not None:
        vectors = encode([question] + [c[2] for c in candidates])
        best = int(np.argmax(vectors[1:] @ vectors[0]))
    number, index, answer = candidates[best]
    following = [c[2] for c in candidates if c[0] == number and c[1] == index + 1]
    if following and len(answer) < 80 and len(answer) + len(following[0]) < max_chars:
        answer = f"{answer} {following[0]}"
    if len(answer) > max_chars:
        answer = answer[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return f"{answer} [{number}]"
