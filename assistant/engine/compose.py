"""Answer composition: the text a customer reads, curated text first, never a fragment.

- `faq_answer`: an FAQ entry (a question/answer row) that retrieval ranks first is answered like a template:
  its own answer with its own line breaks, cited [1]; a long one is cut to its opening lines.
- `extractive_answer`: the floor under every grounded turn: whole sentences of the top passages that are
  closest to the question, in the passages' order, each cited. Never cut mid-sentence.
- `SentenceGate` with `answer_judge`: a model's draft is released sentence by sentence, each one judged against
  the passages (supported, not a loop, echo, fragment or talk about the sources) before it is shown; the first
  failing sentence ends the draft.

The turn (turn.py) composes from these: FAQ when the top hit is an FAQ entry, else the model's gated draft,
else (nothing passed the gate) the extractive answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.engine.answer_checks import (
    addresses_assistant,
    defects,
    sentence_supported,
    without_instructions,
)
from assistant.engine.passage import (
    TABLE_ROW,
    Passage,
    contradicts,
    off_condition,
    row_asked_for,
    sentences,
)
from assistant.engine.sentences import CITATION, strip_citations

Encoder = Callable[[list[str]], np.ndarray]
Judge = Callable[[str, list[str]], "str | None"]  # (sentence, sentences shown so far) -> None or a reason

FAQ_MAX_CHARS = 1000  # an FAQ answer longer than this is cut to its opening lines (under the 1,200 of over_length)
FAQ_MIN_WORDS = 3  # fewer, with no sentence mark, is no answer ("Krishna Anand")
_WORDS = re.compile(r"[^\W_]+")
_QUESTION_LABEL = re.compile(r"^\W{0,3}(?:question|q)\s*:", re.I)
_ANSWER_LABEL = re.compile(r"^\W{0,3}(?:answer|a)\s*:\s*", re.I)
EXTRACT_MAX_CHARS = 400  # the extractive answer's budget: two or three sentences
# A sentence ends at . ! ? (or a newline) and may carry its citations after the mark: "…days. [1] Next".
_BOUNDARY = re.compile(r"(?<=[.!?])((?:\s*\[\d+\])*)(?=\s)|\n+")


def needs_citation(answer: str) -> bool:
    """A finished, non-empty answer with no `[n]` marker."""
    return bool(answer.strip()) and CITATION.search(answer) is None


def is_faq(hit: Any) -> bool:
    """The hit is a curated question/answer row (retrieval's loaders mark them format=faq)."""
    return (getattr(hit, "metadata", None) or {}).get("format") == "faq"


def _opening(parts: list[str], budget: int, sep: str) -> list[str]:
    """The leading parts that fit `budget` characters together (the first one always)."""
    kept: list[str] = []
    for part in parts:
        if kept and sum(len(k) + len(sep) for k in kept) + len(part) > budget:
            break
        kept.append(part)
    return kept


def faq_answer(hit: Any, *, max_chars: int = FAQ_MAX_CHARS) -> str:
    """The FAQ entry's own answer with its own line breaks (commands and steps stay readable), cited [1].

    A long entry answers first and elaborates after (steps, code, logs): past `max_chars` it is cut to its
    opening lines, or to the opening sentences of a first paragraph that is itself too long; lines that
    address the assistant ("SYSTEM: ...") are never part of it, nor a "Question: ..." that restates the
    asker's problem before the "Answer: ...". Empty when what is left does not answer: the turn abstains.
    """
    lines = [line.rstrip() for line in hit.text.strip().splitlines() if not addresses_assistant(line)]
    if len(lines) > 1 and _QUESTION_LABEL.match(lines[0]) and _ANSWER_LABEL.match(lines[1]):
        lines = [_ANSWER_LABEL.sub("", lines[1]), *lines[2:]]
    text = "\n".join(lines).strip()
    kept = text.splitlines()
    cut = len(text) > max_chars
    if cut:
        kept = _opening(lines, max_chars, "\n")
        if len(kept) == 1 and len(kept[0]) > max_chars:
            kept = [" ".join(_opening(sentences(kept[0]), max_chars, " "))]
    # A cut entry ends on its last whole sentence, not inside a command or a log; any entry ends before a
    # closing "like this:" whose picture or code did not survive the export.
    while len(kept) > 1 and (kept[-1].rstrip().endswith((":", ",", ";")) or not kept[-1].strip()
                             or (cut and not _ENDS_SENTENCE.search(kept[-1].rstrip()))):
        kept.pop()
    text = "\n".join(kept).strip()
    # An entry whose content was a picture keeps only its lead-in ("Error:") or its author's name: no answer.
    # "Yes." is one: a sentence mark tells it from a bare name.
    bare = len(_WORDS.findall(text)) < FAQ_MIN_WORDS and not _ENDS_SENTENCE.search(text)
    if bare or text.endswith((":", ",", ";")):
        return ""
    return f"{text} [1]"


_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]*]*$")
# a sentence opening on a pronoun or a connective that points back ("It cannot be combined with...", "After that you
# can verify again"); "It takes 3 days" does not
_LEANS_BACK = re.compile(r"^(?:it(?!(?:\s+(?:usually|normally|can|may|only))?\s+takes?\b)|its|they|their|them|this|that"
                         r"|these|those|after that|before that|until then|by then|then|also|otherwise|instead|however"
                         r"|in that case|if so|if not)\b", re.I)
_WHOLE = re.compile(r"^[\"'“(]?[A-Z0-9€$£].*[.!?][\"'”)]*$", re.S)


def _whole(sentence: str) -> bool:
    """A sentence on its own: it opens with a capital or a number and ends with . ! or ? (a list item that
    continues its lead-in, "outlet stores, second-hand offers,", is a fragment)."""
    return bool(_WHOLE.match(sentence.strip()))


# A table row the question names by its label outranks every sentence it competes with
ROW_ASKED_FOR = 1.0


def extractive_answer(question: str, passages: Sequence[Passage], encode: Encoder | None, *,
                      max_passages: int = 2, max_chars: int = EXTRACT_MAX_CHARS, min_chars: int = 25,
                      said: frozenset[str] = frozenset(), asked: str | None = None) -> str:
    """Whole sentences of the top passages closest to the question, in order, each passage's followed by [n].

    The top passage's best sentence always leads (retrieval's ranking is the better evidence of the right
    page), with the sentence after it when it is short; a later passage adds its best sentence only when that
    one is closer to the question than the top passage's. Sentences shorter than `min_chars` or equal to the
    title say nothing on their own, and one that leans on the sentence before it ("It cannot be combined...")
    may follow the best sentence but never stands in for it. Whole sentences only: a long one is kept whole rather
    than cut. A table row whose label names a word of `asked` (the customer's own message; default the question)
    leads instead, also from a further passage. Sentences in `said` (already given in
    this chat, normalised by `said_key`) are not given again, nor one whose condition is the opposite of the
    customer's (`contradicts`). A top passage whose every sentence answers a situation the question does not mention
    (`off_condition`) gives the lead to the next passage that has another.
    """
    items: list[tuple[int, int, str]] = []  # (passage number, sentence index, sentence)
    named: list[int] = []  # the items that are a table row the customer names
    for number, passage in enumerate(passages, start=1):
        # past the top passages, only a table row the customer names: "how long does delivery to the USA take?" ranks
        # the page's notes above its table, "do you ship to Canada?" the customs page above the price table
        further = number > max_passages
        title = " ".join(passage.title.lower().split()).strip(" .")
        for i, sentence in enumerate(sentences(passage.text)):
            row = row_asked_for(sentence, asked or question)
            if further and not row:
                continue
            if (len(sentence) >= min_chars and " ".join(sentence.lower().split()).strip(" .") != title
                    and _whole(sentence) and not _ANNOUNCES.search(sentence) and not addresses_assistant(sentence)
                    and said_key(sentence) not in said and not contradicts(sentence, question)):
                named += [len(items)] if row else []
                items.append((number, i, sentence))
    if not items:
        return ""
    scores = np.zeros(len(items))
    if encode is not None:
        vectors = encode([question] + [s for _, _, s in items])
        scores = vectors[1:] @ vectors[0]
    scores[named] += ROW_ASKED_FOR
    lead_number = items[0][0]
    # a top passage that only answers a situation the customer did not mention ("If you cancel before dispatch, the
    # refund appears within 1-3 days" to "how long does a refund take?") gives the lead to the next passage
    if all(off_condition(s, question) for n, _, s in items if n == lead_number) and any(
            n != lead_number and not off_condition(s, question) for n, _, s in items):
        lead_number = next(n for n, _, s in items if n != lead_number and not off_condition(s, question))
    if named:  # the row the customer names, the closest one when several are, answers before any passage's prose
        lead_number = items[max(named, key=lambda k: scores[k])][0]
    own = [k for k, item in enumerate(items) if item[0] == lead_number]
    # a sentence that leans on the one before it may follow the best sentence, not stand in for it
    standalone = [k for k in own if not _LEANS_BACK.match(items[k][2])] or own
    best = max(standalone, key=lambda k: scores[k])
    chosen = [best]
    number, index, sentence = items[best]
    following = [k for k in own if items[k][1] == index + 1]
    if (following and len(sentence) < 80 and TABLE_ROW not in sentence
            and len(sentence) + len(items[following[0]][2]) < max_chars):
        chosen.append(following[0])
    others = [k for k, item in enumerate(items) if item[0] != lead_number and not _LEANS_BACK.match(item[2])
              and not off_condition(item[2], question)]
    if others:
        runner = max(others, key=lambda k: scores[k])
        used = sum(len(items[k][2]) for k in chosen)
        if scores[runner] > scores[best] and used + len(items[runner][2]) <= max_chars:
            chosen.append(runner)
    chosen.sort()
    out = []
    for position, k in enumerate(chosen):
        last_of_passage = position + 1 == len(chosen) or items[chosen[position + 1]][0] != items[k][0]
        out.append(f"{items[k][2]} [{items[k][0]}]" if last_of_passage else items[k][2])
    return " ".join(out)


# Cosine head start of a curated reply over the page's sentences: curated text is preferred unless a page sentence is
# clearly closer to the question (a general question, "Can I pay with PayPal?", trails its template by up to 0.2)
TEMPLATE_HEAD_START = 0.2


def template_fits(question: str, template: str, passage: Passage, encode: Encoder) -> bool:
    """Whether a template answers the question about as closely as the best sentence of the page retrieval ranked
    first. A template answers its intent's common question; a specific one ("do I pay postage twice when my order
    comes in two boxes") is better answered by the page's own sentence ("...you still pay shipping once") than by
    the price list. Page sentences that are questions ("Forgotten your password?") echo the customer, not answer."""
    ours = [s for s in sentences(template) if len(s) >= 25]
    theirs = [s for s in sentences(passage.text) if len(s) >= 25 and not s.endswith("?")]
    if not ours or not theirs:
        return True
    similarity = encode([question, *ours, *theirs])
    similarity = similarity[1:] @ similarity[0]
    return float(similarity[:len(ours)].max()) + TEMPLATE_HEAD_START >= float(similarity[len(ours):].max())


def said_key(sentence: str) -> str:
    """A sentence as compared with what the chat already said: citations, case and spacing left out."""
    return " ".join(CITATION.sub(" ", sentence).lower().split()).strip(" .")


def split_complete(buffer: str) -> tuple[list[str], str]:
    """The complete sentences at the start of a streamed `buffer`, and the unfinished rest."""
    done: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(buffer):
        end = match.end()
        sentence = buffer[start:end].strip()
        if sentence:
            done.append(sentence)
        start = end
    return done, buffer[start:]


@dataclass
class SentenceGate:
    """Releases a streamed draft one judged sentence at a time.

    `feed` takes each text delta and returns the text to show now (whole sentences, with the spacing the
    model used); `finish` judges what is left once the model stopped. After the first rejected sentence the
    gate is closed: `reason` says why, and the caller stops the model.
    """

    judge: Judge
    shown: list[str] = field(default_factory=list)
    reason: str | None = None
    _buffer: str = ""

    @property
    def closed(self) -> bool:
        return self.reason is not None

    def feed(self, delta: str) -> str:
        if self.closed:
            return ""
        self._buffer += delta
        complete, self._buffer = split_complete(self._buffer)
        return self._release(complete)

    def finish(self) -> str:
        """Judge what is left once the model stopped: an unfinished last sentence (the token budget ran out, or
        the model ended mid-phrase) is dropped."""
        if self.closed:
            return ""
        rest, self._buffer = self._buffer.strip(), ""
        if not rest:
            return ""
        if not re.search(r"[.!?][\"')\]]*(?:\s*\[\d+\])*$", rest):
            self.reason = "unfinished"
            return ""
        return self._release([rest])

    def _release(self, complete: list[str]) -> str:
        out = []
        for sentence in complete:
            reason = self.judge(sentence, self.shown)
            if reason is not None:
                self.reason = reason
                break
            sentence = " ".join(sentence.split())  # "takes.\n[1]" reads as "takes. [1]"
            self.shown.append(sentence)
            out.append(sentence)
        if not out:
            return ""
        lead = " " if len(self.shown) > len(out) else ""
        return lead + " ".join(out)

    @property
    def text(self) -> str:
        return " ".join(self.shown)


# What ends a draft at a sentence: the ones a customer cannot use. "unfinished" and "over_length" are judged
# on the whole answer (SentenceGate.finish and the token budget), not sentence by sentence.
# an answer that talks about the sources instead of giving what they say
_ABOUT_SOURCES = re.compile(r"^\W*(?:according to (?:the |this |these )?(?:sources?|passages?|documents?|context)"
                            r"|(?:the |this |these )(?:sources?|passages?|documents?|context|answer)\b(?! (?:to|of|for) ))",
                            re.I)
# a sentence that announces what follows ("Here is how long each stage takes.") promises, it does not answer
_ANNOUNCES = re.compile(r"^\W*here (?:is|are)\b|\b(?:as follows|below)\W*$", re.I)
_SENTENCE_DEFECTS = ("loop", "echo", "dangling_citation", "non_answer", "instruction_as_fact")


def answer_judge(question: str, passages: Sequence[Passage]) -> Judge:
    """The gate's judge for one turn: a sentence passes when it repeats nothing already shown, shows none of
    answer_checks' defects and is supported by the passages (its facts and most of its words are theirs), a
    document's own instructions to the assistant not counting as support."""
    clean = without_instructions(passages)

    def judge(sentence: str, shown: list[str]) -> str | None:
        bare = strip_citations(sentence)
        if not _WHOLE.match(bare.strip()) or len(re.findall(r"[^\W\d_]{2,}", bare)) < 2:
            return "fragment"  # a heading, a table row, a lone list marker, half a sentence
        if _ABOUT_SOURCES.match(bare) or _ANNOUNCES.search(bare):
            return "non_answer"  # "The source says that shipping costs and free shipping."
        said = " ".join(bare.lower().split())
        if any(" ".join(strip_citations(s).lower().split()) == said for s in shown):
            return "loop"
        found = [d for d in defects(sentence, question, passages) if d in _SENTENCE_DEFECTS]
        if found:
            return found[0]
        return None if sentence_supported(sentence, clean) else "unsupported"

    return judge


def supporting_passage(answer: str, passages: Sequence[Passage]) -> int:
    """The number of the first passage that supports the answer on its own (1 when none does alone)."""
    for number, passage in enumerate(passages, start=1):
        if sentence_supported(strip_citations(answer), [passage]):
            return number
    return 1
