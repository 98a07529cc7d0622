"""Checkable facts in a text: numbers (with their currency or unit), prices, percentages, times, dates,
e-mail addresses, links and names, normalised so that "€50" matches "50 euros" and "9 am" matches "09:00".

`unsupported_facts(answer, passages)` is what answer_checks.py (and so the live answer check) builds on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol

from assistant.engine.sentences import DASHES, LIST_ITEMS, sentences
from assistant.engine.sentences import strip_citations as _strip_citations


class Passage(Protocol):
    title: str
    text: str


_NUM = r"\d+(?:[.,]\d+)*"
_CURRENCY = {"€": "€", "eur": "€", "euro": "€", "euros": "€", "$": "$", "usd": "$", "dollar": "$",
             "dollars": "$", "£": "£", "gbp": "£", "pound": "£", "pounds": "£"}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)
_URL = re.compile(r"\b(?:https?://|www\.)\S+[\w/]|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|eu|nl|de"
                  r"|uk|example|dev|app|ai|co|info|be|fr|es|it)\b(?:/[\w/.%?=&#-]*[\w/])?", re.I)
_MONEY = re.compile(rf"(?P<pre>[€$£])\s?(?P<a>{_NUM})"
                    rf"|(?P<b>{_NUM})\s?(?P<post>€|eur|euros?|usd|dollars?|gbp|pounds?)\b", re.I)
_PERCENT = re.compile(rf"(?P<n>{_NUM})\s?(?:%|percent\b|per cent\b)", re.I)
_TIME = re.compile(r"\b(?P<h>[01]?\d|2[0-3])(?::(?P<m>[0-5]\d))?\s?(?P<ap>[ap])\.?m\b\.?"
                   r"|\b(?P<h2>[01]?\d|2[0-3]):(?P<m2>[0-5]\d)\b", re.I)
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH = rf"(?:{'|'.join(_MONTHS)}|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b\.?"
_DATE = re.compile(rf"\b(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})\b"
                   rf"|\b(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH})"
                   rf"|\b(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b", re.I)
# "1–2 business days" is one fact: an answer's "1 business day" is not what the passage says
_RANGE = re.compile(rf"(?<![\w.])(?P<a>{_NUM})\s?-\s?(?P<b>{_NUM})(?![\w@.])")
_NUMBER = re.compile(rf"(?<![\w.]){_NUM}(?:st|nd|rd|th)?(?![\w@])")
_WORD_NUMBERS = {w: str(i) for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six",
                                                  "seven", "eight", "nine", "ten", "eleven", "twelve"))}
_WORD_NUMBERS |= {"fifteen": "15", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
                  "sixty": "60", "ninety": "90", "hundred": "100"}
# "12 months" is one fact: an answer's "12 weeks" is not what the passage says ("a 30-day window" -> '30 day')
_UNITS = {"min": "minute", "mins": "minute", "hr": "hour", "hrs": "hour"}
_DURATION = re.compile(rf"(?<![\w.])(?P<n>{_NUM}|{'|'.join(_WORD_NUMBERS)})[\s-]?(?:(?:business|working|calendar)\s)?"
                       r"(?P<u>minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b", re.I)
# a capitalised word not at a sentence's start; "I", "OK" and the like are no facts
_NAME = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_NOT_NAMES = frozenset({"i", "i'm", "i'll", "i've", "i'd", "ok", "okay"})


def _number(text: str) -> str:
    """'50.00' -> '50', '4,95' -> '4.95', '1,000' -> '1000', '07' -> '7'."""
    text = re.sub(r"(?:st|nd|rd|th)$", "", text)
    if "," in text:
        head, _, tail = text.rpartition(",")
        thousands = len(tail) == 3 and "." not in text
        text = text.replace(",", "") if thousands else f"{head.replace(',', '')}.{tail}"
    if re.fullmatch(r"\d+\.\d+", text):
        text = text.rstrip("0").rstrip(".")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        text = text.lstrip("0") or "0"
        text = "0" + text if text.startswith(".") else text
    return text


def _duration(m: re.Match[str]) -> str:
    n, unit = m["n"].lower(), m["u"].lower()
    unit = _UNITS.get(unit, unit.removesuffix("s"))
    return f"{_WORD_NUMBERS.get(n) or _number(n)} {unit}"


def _time(m: re.Match[str]) -> str:
    if m["h"]:
        return f"{int(m['h']) % 12 + (12 if m['ap'].lower() == 'p' else 0):02d}:{m['m'] or '00'}"
    return f"{int(m['h2']):02d}:{m['m2']}"


def _date(m: re.Match[str]) -> str:
    day, month = (m["d1"], m["m1"]) if m["d1"] else (m["d2"], m["m2"])
    return m["iso"] or f"{int(day)} {next(n for n in _MONTHS if n.startswith(month.lower()[:3]))}"


def names(text: str) -> set[str]:
    found: set[str] = set()
    for sentence in sentences(text):
        body = re.sub(r"[*_`#>\"“”‘’()]", " ", _strip_citations(sentence))
        for match in _NAME.finditer(body):
            words = match.group(0).split()
            head = body[:match.start()].rstrip()
            if not head or head.endswith((":", ";", "-", "!", "?", ".")):  # a sentence or clause starts
                words = words[1:]
            words = [w for w in words if w.lower() not in _NOT_NAMES]
            if words:
                found.add(" ".join(words).lower())
    return found


def facts(text: str) -> set[str]:
    """The checkable facts in a text, normalised: money '€50' (for '€50.00', '50 EUR', '50 euros'), '10%',
    times '09:00' ('9:00', '9 am'; '5 pm' -> '17:00'), dates '1 may' / '2025-05-01', ranges ('3-5 days' ->
    '3-5', whose ends are not numbers of their own), durations ('12 months', 'two weeks' -> '12 month', '2 week'),
    every other number, e-mail addresses and links (lowercase, no scheme) and capitalised names that
    do not start a sentence (lowercase: 'northwind outfitters'). Citation markers and list numbers are not."""
    lines = text.translate(DASHES).splitlines()
    text = LIST_ITEMS.sub("", "\n".join(_strip_citations(line) for line in lines))
    out: set[str] = set()
    spans: list[tuple[int, int]] = []

    def take(pattern: re.Pattern[str], fact: Callable[[re.Match[str]], str]) -> None:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in spans):
                continue
            spans.append(m.span())
            value = fact(m)
            if value:
                out.add(value)

    take(_EMAIL, lambda m: m.group(0).lower())
    take(_URL, lambda m: re.sub(r"^(?:https?://)?(?:www\.)?", "", m.group(0).lower()).rstrip("/."))
    take(_MONEY, lambda m: _CURRENCY[(m["pre"] or m["post"]).lower()] + _number(m["a"] or m["b"]))
    take(_PERCENT, lambda m: _number(m["n"]) + "%")
    take(_TIME, _time)
    take(_DATE, _date)
    take(_RANGE, lambda m: f"{_number(m['a'])}-{_number(m['b'])}")
    take(_DURATION, _duration)
    take(_NUMBER, lambda m: _number(m.group(0)))
    for a, b in spans:  # "50 EUR" is money, not the name "EUR"
        text = text[:a] + "0" * (b - a) + text[b:]
    return out | names(text)


def _numbers(text: str) -> set[str]:
    """Every number of a text however written ('€5', '5 days', 'five'): an answer's bare number may be any."""
    text = _RANGE.sub(" ", text.translate(DASHES).lower())  # a range's ends are no numbers of their own
    found = {_number(m.group(0)) for m in re.finditer(_NUM, text)}
    return found | {n for w, n in _WORD_NUMBERS.items() if re.search(rf"\b{w}\b", text)}


def _fact_supported(fact: str, passage: str, passage_facts: frozenset[str], numbers: frozenset[str]) -> bool:
    if fact in passage_facts:
        return True
    if re.fullmatch(r"\d+(?:\.\d+)?", fact):
        return fact in numbers
    if re.fullmatch(r"[a-z][\w' -]*", fact):  # a name: each word found in any case, plural or not ("Sundays")
        words = (re.escape(w[:-1] if w.endswith("s") and not w.endswith("ss") else w) for w in fact.split())
        return all(re.search(rf"(?<!\w){w}(?:s|es|'s)?(?!\w)", passage) for w in words)
    return False


@lru_cache(maxsize=256)
def _view(title: str, text: str) -> tuple[str, frozenset[str], frozenset[str]]:
    """A passage as the fact check reads it: its plain lowercase text, its facts and all its numbers."""
    body = f"{title}\n{text}"
    plain = " ".join(re.sub(r"[*_`#>]", " ", body.translate(DASHES)).lower().split())
    return plain, frozenset(facts(body)), frozenset(_numbers(body))


def unsupported_facts(answer: str, passages: Sequence[Passage]) -> set[str]:
    """Facts of the answer (citation markers aside) that appear in none of the passages."""
    views = [_view(p.title, p.text) for p in passages]
    return {f for f in facts(answer) if not any(_fact_supported(f, *v) for v in views)}


