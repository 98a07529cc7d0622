"""A help-centre passage read as sentences, and whom each sentence answers.

    sentences(page.text)                       # whole sentences: paragraphs, list items, table rows
    row_asked_for(sentence, "express to the UK?")   # a table row the customer names by its label
    off_condition(sentence, question)          # "If you cancel before dispatch, ..." to a question that never says so
    contradicts(sentence, question)            # "If it was not locked, ..." to "I had locked it"

compose.py builds answers from these; context.py picks the model's excerpts with `sentences`.
"""

from __future__ import annotations

import re
from typing import Protocol

_MARKER = re.compile(r"^\s*(?:\[\d+\]\s*|\(\d+\)\s*|(?:\d+[.)]|[-*•>])\s+)")  # "**Bold** at a line start" is no bullet
_EMPHASIS = re.compile(r"[*#`]")  # markdown that means nothing in a plain sentence; ">" inside a menu path stays
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"“])")
TABLE_ROW = " – "  # how `_units` joins a table row's cells


class Passage(Protocol):
    title: str
    text: str


def _units(text: str) -> list[str]:
    """Paragraphs and list items with their hard line wraps joined; a table row as one sentence that names
    its columns ("USA and Canada – Standard: €14.95 – Express: €29.95."), the header row itself dropped."""
    units: list[str] = []
    paragraph: list[str] = []
    header: list[str] | None = None
    listed = False  # the paragraph is a list item
    for raw in [*text.splitlines(), ""]:
        line = raw.strip()
        item = _MARKER.match(line) is not None or line.startswith(("|", "#"))
        if (not line or item) and paragraph:
            units.append(_closed(" ".join(paragraph)) if listed else " ".join(paragraph))
            paragraph = []
        if not line.startswith("|"):
            header = None
        if line.startswith("#"):
            continue  # a heading names a topic; it answers nothing
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):  # the |---| separator row
                continue
            if header is None:
                header = cells
                continue
            named = [cells[0], *(f"{h}: {c}" if h else c for h, c in zip(header[1:], cells[1:], strict=False) if c)]
            units.append(TABLE_ROW.join(c for c in named if c).rstrip(".") + ".")
        elif item:  # its hard-wrapped continuation lines join it below
            paragraph, listed = [_MARKER.sub("", line)], True
        elif line:
            listed = listed and bool(paragraph)  # after a blank line, a new paragraph; else the item goes on
            paragraph.append(line)
    return units


# how a list item that goes on in the next one ends: "import duties,", "Items must be:", "unworn and"
_OPEN_END = re.compile(r"(?:[^\w%€$£)]|\b(?:and|or|but|nor|of|to|the|a|an|with|for|in|on|by))$", re.I)


def _closed(item: str) -> str:
    """A list item that states a whole thing without a full stop ("Saturday and Sunday: 09:00 to 18:00") gets one; an
    item that continues a lead-in ("import duties,") or goes on in the next item is left as it is."""
    bare = _EMPHASIS.sub("", item).rstrip()
    if not bare[:1].isupper() and not bare[:1].isdigit() or _OPEN_END.search(bare):
        return item
    return item.rstrip() + "."


def sentences(text: str) -> list[str]:
    """A passage's sentences, markdown emphasis removed (headings dropped, table rows as sentences)."""
    out: list[str] = []
    for unit in _units(text):
        unit = _EMPHASIS.sub("", unit).strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(unit) if s.strip())
    return out


_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def row_asked_for(sentence: str, question: str) -> bool:
    """The sentence is a table row whose label (its first cell) has a name the question also has: "How much is express
    to the UK?" asks for the row "UK, Switzerland, Norway, Iceland", however alike the encoder finds "UK" and "USA".
    A name is written in capitals (UK) or with an inner capital (PayPal), or is capitalised in both the label and the
    question past their first word ("Canada"): "Can I pay with Klarna?" does not ask for the row "Apple Pay, Google
    Pay", nor "my card" for "Northwind gift card"."""
    from retrieval.tokenizer import tokenize

    label, _, rest = sentence.partition(TABLE_ROW)
    if not rest:
        return False
    theirs = {w for w in _WORD.findall(question)[1:] if w[0].isupper()}
    names = [w for i, w in enumerate(_WORD.findall(label)) if (len(w) > 1 and w.isupper())
             or any(c.isupper() for c in w[1:]) or (i and w in theirs)]
    return bool(set(tokenize(" ".join(names))) & set(tokenize(question)))


# "If you refuse to pay the import charges, the parcel comes back to us": true, and an answer for a customer in that
# situation only
_CONDITION = re.compile(r"^(?:if|unless)\b([^,:;]{3,120}?)[,:]", re.I)


def off_condition(sentence: str, question: str) -> bool:
    """The sentence opens with a condition ("If you cancel before dispatch, ...") that shares no word with the
    question: it may not lead an answer, nor be added to one from a lower passage."""
    from retrieval.tokenizer import tokenize

    match = _CONDITION.match(sentence.strip())
    return match is not None and not set(tokenize(match.group(1))) & set(tokenize(question))


_NEGATION = re.compile(r"\b(?:not|no|never|without)\b|n['’]t\b", re.I)


def _negated(text: str) -> set[str]:
    """The words a "not", "no", "never", "without" or "-n't" denies: the word right after it, as retrieval tokenizes
    it ("was not locked": lock; "don't have my parcel": nothing, "have" being a stopword)."""
    from retrieval.tokenizer import tokenize

    return {word for match in _NEGATION.finditer(text) for word in tokenize(" ".join(text[match.end():].split()[:1]))}


def contradicts(sentence: str, question: str) -> bool:
    """The sentence opens with a condition that is the opposite of the customer's situation: it negates a word the
    question states, or states one the question negates ("If it was not locked, ..." to "it was stolen but I had
    locked it"). True, and an answer for the other customer: never part of this one."""
    from retrieval.tokenizer import tokenize

    match = _CONDITION.match(sentence.strip())
    if match is None:
        return False
    condition = match.group(1)
    shared = set(tokenize(condition)) & set(tokenize(question))
    return any((word in _negated(condition)) != (word in _negated(question)) for word in shared)
