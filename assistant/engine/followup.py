"""Follow-up questions: the text to retrieve with, given the earlier turns of the conversation.

A customer's second message is often elliptical ("And for an exchange?", "how long is it valid?"): on its
own it names no topic, retrieval finds nothing relevant and the assistant answers from nothing. This module
rewrites such a message into the text to search with, using the previous user question. No chat model is
involved: the default one (135M parameters) cannot be trusted to rewrite a question faithfully.

Rules, each measured with bench/followups.py on bench/data/followups.jsonl (two-turn exchanges over the sample
shop and the two zoomcamp FAQs; retrieval hit@1; the rule choices below were made on the first 62: 54 follow-ups,
8 topic changes):

1. Only a question that brings at most `MAX_NEW_WORDS` (3) content words of its own (not function words,
   not in the previous user question) is a follow-up; any other question is returned unchanged. Rewriting
   every question instead keeps 6 of the 8 topic changes ("My parcel shows delivered but I never got it"
   then lands on the student-discount page the previous turn was about); with this rule all 8 hold. A limit
   of 2 finds 24 shop follow-ups instead of 27, a limit of 4 loses the same 2 topic changes. Two other
   signals were measured and left out: an opening "and / what about / what if ..." (no hit more or less:
   the follow-ups it catches are already short) and a pronoun (one topic change lost, the parcel one above,
   nothing gained).
2. A follow-up is searched as itself plus the content words of the previous user question that it does not
   already contain ("how long is it valid? student discount"). Appending the whole previous question
   instead: 48 hits instead of 49 (52 instead of 53 with rule 3), and a longer query. A previous question
   that was itself a bare fragment (one content word of its own: "And for an exchange?") is first resolved
   the same way against the turns before it, so a chain of follow-ups keeps the first topic (not measured:
   the set has two turns; the limit is 1, not 3, because a short standalone question such as "How do I
   return an item?" passes rule 1 and would carry an older subject into every later turn).
3. Optional, when the caller passes `search`: if the follow-up alone ranks first the page that the
   rewritten text ranks second, the follow-up is returned unchanged. On an FAQ the rewrite's first page is
   often the entry that answered the previous question, while the customer asks about its neighbour
   ("and if I'm late?" after the homework deadlines). It costs two more searches per follow-up and trades
   hits between the sets: +7 on the zoomcamp FAQs, -3 on the shop, whose pages each cover a whole topic.

hit@1 on the set (raw message / rules 1-2 / rules 1-3 / the hand-written reference rewrite), 2026-12-07, with
ten short standalone shop questions added as topic changes ("How much is shipping to the US?" after a returns
question: rule 1 takes it for a follow-up, rule 3 keeps it as asked):
all 72: 51 / 55 / 60 / 65; shop follow-ups (28): 13 / 24 / 24 / 24; MLOps FAQ follow-ups (13): 11 / 7 / 10 / 12;
data-engineering FAQ follow-ups (13): 11 / 9 / 10 / 13; topic changes (18): 16 / 15 / 16 / 16.
The raw zoomcamp follow-ups score well because FAQ questions are phrased like follow-ups themselves; the raw
shop follow-ups mostly fall below understanding.min_retrieval_score, where the assistant abstains.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

MAX_NEW_WORDS = 3  # rule 1: a question with more content words of its own is standalone
CHAIN_MAX_NEW_WORDS = 1  # an earlier question is resolved against the one before it only if it is a fragment
MAX_CONTEXT_WORDS = 16  # words carried over from earlier turns, so that a long chain stays a short query

# Function words and conversational fillers: they say how something is asked, not what about.
_FUNCTION_WORDS = """
    a about after again against all also am an and any are as at be been before being between both but by
    can can't cannot could couldn't did didn't do does doesn't doing don't during each either else even
    ever for from further get gets getting got had has have having he her here hers him his how however i
    i'd i'll i'm i've if in instead into is isn't it it's its just let me might mine more most must my
    need needs neither no nor not now of off ok okay on once one only or other our ours out over own
    please same shall she should shouldn't so some still such than thank thanks that that's the their
    theirs them then there there's these they they're this those though through to too under until up us
    very was wasn't way we well were what what's when where which while who whom whose why will with
    won't would wouldn't yes yet you you're your yours
"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
_WORD = re.compile(r"[^\W_](?:[\w.'-]*[^\W_])?")


class _Message(Protocol):
    role: str
    content: str


Turn = tuple[str, str] | _Message | dict[str, Any]
# search(text) -> hits best first, each a document id or an object with .doc_id (retrieval.schema.Hit)
Search = Callable[[str], Sequence[Any]]


def content_words(text: str) -> list[str]:
    """The words of `text` that carry its subject, in order, as written (function words dropped)."""
    words = _WORD.findall(text.replace("\u2019", "'"))
    return [w for w in words if w.lower() not in FUNCTION_WORDS]


def _role_content(turn: Turn) -> tuple[str, str]:
    if isinstance(turn, tuple):
        return str(turn[0]), str(turn[1])
    if isinstance(turn, dict):
        return str(turn.get("role", "")), str(turn.get("content", ""))
    return str(turn.role), str(turn.content)


def _user_questions(history: Iterable[Turn]) -> list[str]:
    pairs = (_role_content(turn) for turn in history)
    return [content for role, content in pairs if role == "user" and content.strip()]


def _new_words(question: str, context: str) -> list[str]:
    seen = {w.lower() for w in content_words(context)}
    return [w for w in content_words(question) if w.lower() not in seen]


def is_followup(question: str, previous: str, max_new_words: int = MAX_NEW_WORDS) -> bool:
    """Rule 1: the question brings at most `max_new_words` content words that `previous` lacks."""
    return bool(previous.strip()) and len(_new_words(question, previous)) <= max_new_words


def _with_context(question: str, context: str) -> str:
    """Rule 2: the question plus the context's content words it does not already contain."""
    seen = {w.lower() for w in content_words(question)}
    carried: list[str] = []
    for word in content_words(context):
        if word.lower() not in seen:
            seen.add(word.lower())
            carried.append(word)
    carried = carried[:MAX_CONTEXT_WORDS]
    return f"{question.strip()} {' '.join(carried)}" if carried else question


def _resolve(questions: list[str]) -> str:
    """The last of `questions`, each fragment in turn rewritten against the (rewritten) one before it.

    Stricter than rule 1 (CHAIN_MAX_NEW_WORDS): a short standalone question such as "How do I return an
    item?" passes rule 1 and would otherwise carry the subject of an older question into every later turn.
    """
    context = ""
    for question in questions:
        chained = is_followup(question, context, CHAIN_MAX_NEW_WORDS)
        context = _with_context(question, context) if chained else question
    return context


def _doc_ids(hits: Sequence[Any], n: int) -> list[str]:
    ids: list[str] = []
    for hit in hits:
        doc_id = hit if isinstance(hit, str) else str(hit.doc_id)
        if doc_id not in ids:
            ids.append(doc_id)
            if len(ids) == n:
                break
    return ids


def is_elliptical(question: str, history: Sequence[Turn]) -> bool:
    """Rule 1 against the earlier turns: the question leans on an earlier one (whether or not rule 3 then keeps it
    as asked). Its few words are too little for an intent model to pick a curated answer on its own."""
    previous = _resolve(_user_questions(history))
    return bool(previous) and is_followup(question, previous)


def standalone_question(question: str, history: Sequence[Turn], search: Search | None = None,
                        min_score: float = 0.0) -> str:
    """The text to retrieve with for `question`, given the turns before it (oldest first).

    `history` holds (role, content) tuples, {"role", "content"} dicts or objects with .role and .content
    (stored messages); only the user turns are read. Returns `question` itself when there is no earlier
    user turn, when it is a standalone question (rule 1), or when `search` shows that its own words pick the
    rewrite's runner-up with a score of at least `min_score` (rule 3); else the question with the previous
    question's subject words (rule 2).
    """
    previous = _resolve(_user_questions(history))
    if not previous or not is_followup(question, previous):
        return question
    rewritten = _with_context(question, previous)
    if search is None or rewritten == question:
        return rewritten
    own_hits = search(question)
    own = _doc_ids(own_hits, 1)
    ranked = _doc_ids(search(rewritten), 2)
    # only a follow-up that would be answered on its own (top score >= min_score, the answer threshold) may
    # stand alone: "what about Spain?" alone scores 0.01 on the shop and would be an abstention
    answerable = bool(own_hits) and (isinstance(own_hits[0], str) or float(own_hits[0].score) >= min_score)
    if own and len(ranked) == 2 and own[0] == ranked[1] and answerable:
        return question
    return rewritten
