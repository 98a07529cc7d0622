"""Sentences of an answer a customer reads: "[1]" markers kept with their sentence, abbreviations ("e.g."),
decimals ("1.5") and links not taken for sentence ends, list items on their own lines.

Used by answer_checks.py and facts.py to judge an answer sentence by sentence.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CITATION = re.compile(r"\[(\d+)\]")
DASHES = str.maketrans({"–": "-", "—": "-", "‑": "-", "’": "'", "\u00a0": " ", "\u202f": " "})
LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]\s+|[-*•>]+\s+|#+\s+)")
TERMINAL = re.compile(r"[.!?][\"'”’)\]*_]*$")
LIST_ITEMS = re.compile(r"^\s*\d{1,2}[.)]\s+", re.M)
# a sentence ends at . ! ? (…), any closing quotes or brackets and any citation markers that follow it
_END = re.compile(r"[.!?…]+[\"'”’)\]*_]*(?:\s*\[\d+\])*(?=\s+\S|\s*$)")
_ABBREVIATIONS = _words("e.g i.e etc vs approx incl excl st mr mrs ms dr prof fig cf jan feb apr jun jul aug "
                        "sep sept oct nov dec mon tue thu fri")


def _is_abbreviation(before: str, rest: str) -> bool:
    word = re.split(r"[\s(\[\"'“]", before)[-1].lower()
    if word in ("no", "nr"):  # "No. 5", not "No. We ship ..."
        return rest[:1].isdigit()
    return word in _ABBREVIATIONS or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def _lines(text: str) -> list[str]:
    """Non-empty lines without list markers; a line that starts in lowercase continues a hard-wrapped one."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = LIST_ITEM.sub("", raw, count=1).strip()
        wrapped = lines and not LIST_ITEM.match(raw) and not TERMINAL.search(lines[-1])
        if line and wrapped and line[0].islower():
            lines[-1] += " " + line
        elif line:
            lines.append(line)
    return lines


def sentences(text: str) -> list[str]:
    """An answer's sentences: every line (list item, paragraph) is split after . ! ? (markers like "[1]"
    stay with the sentence they follow); "e.g.", "1.5", "example.com/a.b" and a lowercase continuation stay
    whole."""
    out: list[str] = []
    for line in _lines(text.translate(DASHES)):
        start = 0
        for match in _END.finditer(line):
            rest = line[match.end():].lstrip()
            if match.group(0)[0] == "." and _is_abbreviation(line[start:match.start()], rest):
                continue
            if rest and (rest[0].islower() or rest[0] in ",;:"):  # "... e.g. the box", "Inc., ..."
                continue
            out.append(line[start:match.end()].strip())
            start = match.end()
        if line[start:].strip():
            out.append(line[start:].strip())
    return [s for s in out if s]


def strip_citations(text: str) -> str:
    return " ".join(CITATION.sub(" ", text).split())


