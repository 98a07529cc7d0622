"""Template rephrasing: the prompt that asks the model to fit a curated reply to the customer's words, and the
check that the result kept every fact (`understanding.rephrase_templates`).

A curated reply is trusted because a person wrote its facts. A rephrasing is only shown when it kept all of
them word for word (every slot value, number, time, price, e-mail address and link of the template), said none
of them more often than the template (a time copied onto another day is a new claim), added no fact and no
negation of its own and kept most of the reply's words; otherwise the customer gets the template as written.
The check is lexical: it cannot prove a rewording true, only refuse the ways small models were seen to fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bm25s.stopwords import STOPWORDS_EN_PLUS

SYSTEM = (
    "You rewrite a customer-support reply so that it answers the customer's message directly and politely. "
    "Keep every fact exactly as written: numbers, times, prices, names, e-mail addresses and links. "
    "Do not add any fact, promise or number. Reply with the rewritten text only."
)

# Facts written into the template text itself (not only through slots): amounts, ranges, times, links.
_NUMBER = r"[€$£]?\d+(?:[.,:]\d+)*(?:\s?%)?"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_LINK = r"\b(?:https?://)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:/[\w/.-]*[\w/])?"
_FACT = re.compile(rf"{_EMAIL}|{_LINK}|{_NUMBER}", re.I)
_DASHES = str.maketrans({"–": "-", "—": "-", "\u00a0": " "})
_ECHO = re.compile(r"^\s*(?:customer(?:'s)?(?:\s+message)?|reply(?:\s+to\s+rewrite)?|message|answer|original)\s*:",
                   re.I | re.M)


def _norm(text: str) -> str:
    return " ".join(text.translate(_DASHES).split()).lower()


def _found(text: str) -> set[str]:
    return {_norm(m.group(0)).rstrip(".") for m in _FACT.finditer(text)}


def facts_of(text: str, values: Iterable[str] = ()) -> set[str]:
    """The template's facts: its slot values and every number, e-mail address and link in the rendered text."""
    return _found(text) | {_norm(v) for v in values if v and v.strip()}


# A rewording keeps most of what the reply is about; "You're ready to proceed." keeps no fact to miss, but
# none of the reply's words either.
MIN_WORDS_KEPT = 0.4
_WORD = re.compile(r"[a-z]{4,}")
# bm25s's English stop words (what BM25 already skips), plus the sample templates' sign-off ("Anything else I can
# help with?") and modal fillers, which a nonsense reply can keep without keeping the answer
_COMMON = frozenset(STOPWORDS_EN_PLUS) | {"also", "anything", "could", "else", "help", "would"}


def _content(text: str) -> set[str]:
    return set(_WORD.findall(text.lower())) - _COMMON


def _count(fact: str, normalised: str) -> int:
    # whole tokens only: "1" must not be found inside "14:00"
    return len(re.findall(rf"(?<!\w){re.escape(fact)}(?!\w)", normalised))


# Facts are also made of words: "we're closed on Sundays" and "we're not closed on Sundays" share every number.
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|nobody|cannot|without)\b")
# Small models narrate the task ("Here's a rewritten version of your request:") instead of doing it.
_META = re.compile(r"\b(?:rewrit\w*|rephras\w*|reword\w*)\b")


def _negations(normalised: str) -> int:
    return len(_NEGATION.findall(normalised.replace("can't", "can not").replace("n't", " not")))


def messages(question: str, reply: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Customer's message: {question}\n\nReply to rewrite:\n{reply}"},
    ]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def check(template_text: str, rephrased: str, values: Iterable[str] = ()) -> Verdict:
    """Whether `rephrased` may replace `template_text`: the same facts, each said no more often, no fact and no
    negation added or dropped, not an echo of the prompt or talk about the task, and most of the words kept."""
    text = rephrased.strip()
    if not text:
        return Verdict(False, "empty")
    if _ECHO.search(text):
        return Verdict(False, "echoed the prompt")
    if len(text) > 2 * len(template_text) + 200:
        return Verdict(False, "too long")
    normalised, original = _norm(text), _norm(template_text)
    if _META.search(normalised) and not _META.search(original):
        return Verdict(False, "talked about the rewording")
    kept = facts_of(template_text, values)
    missing = sorted(f for f in kept if not _count(f, normalised))
    if missing:
        return Verdict(False, f"dropped or changed {missing[0]!r}")
    # a fact said more often than the reply says it is a fact put somewhere new ("Sunday 09:00-14:00")
    repeated = sorted(f for f in kept if _count(f, normalised) > max(1, _count(f, original)))
    if repeated:
        return Verdict(False, f"repeated {repeated[0]!r}")
    if _negations(normalised) != _negations(original):
        return Verdict(False, "added or dropped a negation")
    # a number inside a kept fact ("20" of "+31 20 555 0142") is not new
    allowed = kept.union(*(_found(k) for k in kept))
    added = sorted(_found(text) - allowed)
    if added:
        return Verdict(False, f"added {added[0]!r}")
    words = _content(template_text)
    if words and len(words & _content(text)) < MIN_WORDS_KEPT * len(words):
        return Verdict(False, "kept too little of the reply")
    return Verdict(True)
