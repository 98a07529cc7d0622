"""Key facts of a reference answer (numbers, prices, durations, times, named policies) and their retention.

A generated answer keeps a fact when the fact's normalised form appears in it: "30 days", "30-day"
and "thirty days" all normalise to "30 day"; "€5.95" to "€5.95"; "1–2 business days" to
"1-2 business day". Named policies come from a configurable list, by default the titles of the
knowledge-base pages ("Return policy", "Price match", "Pay in 30 days", ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fourteen": "14", "fifteen": "15",
    "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90",
    "hundred": "100",
}
_UNITS = r"(?:business\s+days?|working\s+days?|days?|weeks?|months?|years?|hours?|minutes?|mins?|h)"
_NUM = r"\d+(?:[.,]\d+)?"
_MONTHS = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_FACT = re.compile(
    rf"(?:[€$£]\s?{_NUM}(?:\s?(?:-|–|to)\s?[€$£]?\s?{_NUM})?)"  # prices and price ranges
    rf"|(?:{_NUM}\s?%)"  # percentages
    rf"|(?:\d{{1,2}}:\d{{2}})"  # clock times
    rf"|(?:\b\d{{1,2}}\s{_MONTHS}\b)"  # dates such as "15 november"
    rf"|(?:{_NUM}(?:\s?(?:-|–|to)\s?{_NUM})?[\s-]?{_UNITS}\b)"  # durations and ranges of them
    rf"|(?:\b{_NUM}\b)",  # any other number
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    text = text.casefold().replace("–", "-").replace("—", "-").replace("\u00a0", " ")
    text = re.sub(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", lambda m: _NUMBER_WORDS[m.group(1)], text)
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)  # 1,299 -> 1299
    text = re.sub(r"\s*(?:-|to)\s*(?=[€$£]?\s?\d)", "-", text)  # "2 to 5", "2 - 5" -> "2-5"
    text = re.sub(r"(\d)[\s-]+(?=[a-z])", r"\1 ", text)  # "30-day" -> "30 day"
    text = re.sub(r"([€$£])\s+", r"\1", text)
    text = re.sub(r"\b(day|week|month|year|hour|minute|min)s\b", r"\1", text)
    text = re.sub(r"\bworking day\b", "business day", text)
    return re.sub(r"\s+", " ", text).strip()


def kb_policy_names(kb_dir: Path) -> list[str]:
    """The H1 titles of the knowledge-base Markdown pages: the store's named policies and services."""
    names = []
    for path in sorted(Path(kb_dir).glob("**/*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                names.append(line[2:].strip())
                break
    return names


@dataclass
class FactScore:
    facts: int  # facts found in the reference
    kept: int  # of which the answer contains

    @property
    def all_kept(self) -> bool:
        return self.kept == self.facts


class KeyFacts:
    def __init__(self, policy_names: Iterable[str] = ()) -> None:
        # A title like "When will I get my refund?" is a page name, not a policy a reply would quote.
        self.policies = sorted({normalise(p) for p in policy_names if p and not p.rstrip().endswith("?")},
                               key=len, reverse=True)

    def extract(self, text: str) -> list[str]:
        norm = normalise(text)
        facts = [normalise(m.group(0)) for m in _FACT.finditer(norm)]
        facts += [p for p in self.policies if re.search(rf"\b{re.escape(p)}\b", norm)]
        # Drop a bare number already covered by a longer fact ("30" inside "30 day").
        unique = list(dict.fromkeys(facts))
        return [f for f in unique if not any(f != g and re.search(rf"(?<![\d.]){re.escape(f)}(?![\d.])", g)
                                             for g in unique)]

    def score(self, reference: str, answer: str) -> FactScore:
        facts = self.extract(reference)
        norm = normalise(answer)
        kept = sum(1 for f in facts if re.search(rf"(?<![\w.]){re.escape(f)}(?![\d])", norm))
        return FactScore(len(facts), kept)
