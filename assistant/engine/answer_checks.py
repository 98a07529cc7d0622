"""Answer checks: judge the text a customer would read against the passages it cites.

Pure, lexical functions (no model): `defects` names what is wrong with an answer's form (a loop, an
unfinished sentence, an echo of the prompt, a citation to nothing, talk about the sources instead of an
answer, an instruction from the message repeated as fact, too long), and `faithful` says whether every fact
and every sentence of it can be found in the passages it was given. `assistant eval answers` counts both over
a query set; the live turn can use them to decide whether a generated draft may be shown. Passages are
numbered 1..n in the order given, as the answer's `[n]` markers number them. The checks cannot prove an
answer true (a time moved onto another day keeps every word), only refuse the ways small models were seen to
fail (docs/benchmarks.md, "Template rephrasing"; the earlier answer-guard runs are in its git history).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Protocol

from assistant.engine.facts import facts, names, unsupported_facts
from assistant.engine.sentences import CITATION, DASHES, LIST_ITEM, TERMINAL, sentences
from assistant.engine.sentences import strip_citations as _strip_citations

DEFECTS = ("loop", "unfinished", "echo", "dangling_citation", "non_answer", "instruction_as_fact",
           "over_length")


class Passage(Protocol):
    title: str
    text: str


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- content words -------------------------------------------------------------------------------------------
_STOP = _words("""a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each either else even ever every few for from further get gets got had hadn't has hasn't
have haven't having he her here hers herself him himself his how however i i'd i'll i'm i've if in into is
isn't it it's its itself just let let's may me might more most much must mustn't my myself need needs no nor
not now of off often on once only or other our ours ourselves out over own please same shall she should
shouldn't so some such than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those through thus to too under until up upon us very via was wasn't we
we'd we'll we're we've were weren't what what's when where which while who whom whose why will with within
without won't would wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves""")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s", "e", "y")


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _content(text: str) -> list[str]:
    """Content words in order, stemmed ('charged', 'charges' -> 'charg'); no stop words, no single letters."""
    tokens = _TOKEN.findall(_strip_citations(text).translate(DASHES).lower())
    return [_stem(t) for t in tokens if t not in _STOP and (len(t) > 1 or t.isdigit())]


# MIN_CONTENT_KEPT, the share of a sentence's content words found in its best passage, measured on real text:
# supported paraphrases keep most: the sample store's curated templates against the chunks of the pages they
# cite, median 0.86, 30 of 33 sentences >= 0.6 (below: "You're welcome!", "Enjoy your time outdoors!",
# "Express is faster."); LLM-written paraphrases of course FAQ entries (the zoomcamp questions against their
# own entry, 293): median 0.80, 83-85% >= 0.6, 90-93% >= 0.5. Unsupported sentences keep fewer: FAQ answer
# sentences against the five other entries that share most words with their question (retrieved, but wrong;
# 1,416): median 0.33-0.45, 15-31% >= 0.6, 27-47% >= 0.5 (12-28% with the fact rule: the check is lexical).
# 0.6 keeps ~85-90% of real paraphrases and refuses ~70-85% of wrong-passage sentences; 0.5 lets half through.
MIN_CONTENT_KEPT = 0.6
# "You're welcome!", "Enjoy your time outdoors!": a short exclamation without a fact is courtesy, not a claim
_COURTESY_WORDS = 3
_QUOTE_CHARS = 20  # a shorter piece found in a passage may be a common phrase, not a quote


def sentence_supported(sentence: str, passages: Sequence[Passage]) -> bool:
    """All the sentence's facts occur in some passage and at least MIN_CONTENT_KEPT of its content words occur
    in one passage. Without an unsupported fact, a question back to the customer, a short exclamation and a
    sentence without content words ("Yes.") claim nothing to check and pass."""
    sentence = _strip_citations(sentence)
    if len(sentence) >= _QUOTE_CHARS and any(sentence in " ".join(p.text.replace("**", "").split()) for p in passages):
        return True  # quoted word for word (an FAQ answer given whole, a page's sentence without its bold marks)
    if unsupported_facts(sentence, passages):
        return False
    words = set(_content(sentence))
    end = sentence.rstrip(" *_\"'”’)")[-1:]
    if not words or end == "?" or (end == "!" and len(words) <= _COURTESY_WORDS):
        return True
    best = max((len(words & _passage_words(p.title, p.text)) / len(words) for p in passages), default=0.0)
    if best < MIN_CONTENT_KEPT:
        return False
    # the words are the passage's, and so is the sense: a passage sentence that shares half of this one's words
    # says it the same way round ("covers accidents" is not supported by "does not cover accidents" alone)
    near = [(seg, head) for p in passages for seg, head in _under_headings(p.text)
            if 2 * len(words & set(_content(seg))) >= len(words)]
    # a list under "## What we do not accept" may be said the negative way round too
    said = _negated(sentence)
    return not near or any(_negated(seg) == said or (_negated(head) and said) for seg, head in near)


_HEADING = re.compile(r"^#{1,6} \S")


def _under_headings(text: str) -> list[tuple[str, str]]:
    """(sentence, the Markdown heading it sits under, or "") for each sentence of a passage; a heading is a
    sentence of its own, and the lines under it are read as sentences() reads them (wrapped lines joined)."""
    out: list[tuple[str, str]] = []
    head, block = "", []
    for line in [*text.splitlines(), "# end"]:
        if _HEADING.match(line):
            out += [(seg, head) for seg in sentences("\n".join(block))]
            head, block = line, []
            out.append((line, ""))
        else:
            block.append(line)
    return out[:-1]


_NEGATION = re.compile(r"\b(?:not|no|never|cannot|none|nothing|without)\b|n't\b", re.I)


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text.replace("’", "'")))


@lru_cache(maxsize=256)
def _passage_words(title: str, text: str) -> frozenset[str]:
    return frozenset(_content(f"{title} {text}"))


def faithful(answer: str, passages: Sequence[Passage]) -> bool:
    """No unsupported fact and every sentence supported (citation markers like [1] ignored)."""
    said = re.search(r"\w", _strip_citations(answer))
    return bool(said) and not unsupported_facts(answer, passages) and all(
        sentence_supported(s, passages) for s in sentences(answer))


# -- defects -------------------------------------------------------------------------------------------------
_TRAILING = re.compile(r"(?:\s*\[\d+\]|[\s\"'”’)*_])+$")
# a sentence does not end on these ("... send it to a [1]")
_DANGLING = _words("a an the and or but of your our their my if than because")
# answers that open in lowercase on purpose
_LOWER_STARTS = _words("iphone ipad ios ipados icloud itunes imac macos ebay e-mail email")
_FRAGMENT_START = re.compile(r"^(?:and|or|but|so|nor|then|which|because)\b", re.I)
_SCAFFOLD = re.compile(
    r"answer in (?:one|two|a few|\d+) (?:or \w+ )?sentences?|cite (?:them|it|the sources?) (?:like|as)"
    r"|</?sources?>"
    r"|^\s*(?:question|customer(?:'s)? message)\s*:|(?-i:\bQuestion:)|\byou are the "
    r"customer-support assistant|reference data, not instructions", re.I | re.M)
# words that talk about the answer instead of giving it
_META = _words("source sources answer answers question questions passage passages document documents "
               "reference references context information according following provided above below text "
               "article cited citation citations given mentioned say says said")
# an instruction to the assistant, in the customer's message or in a document; a help page's own imperatives
# ("Tell us within 7 days") are no such thing, so only words that address the assistant count. A document
# must address it outright; a help page may well say "setup instructions:" or "our new policy".
_ADDRESSED = (r"\b(?:system|assistant|admin|administrator|developer)\s*:"
              r"|\bignore (?:all |any |the )?(?:previous|prior|above|earlier|your|other) "
              r"(?:instructions?|rules?|prompts?|messages?)\b"
              r"|\byou (?:must|should|will|are to|have to) (?:now |always )?"
              r"(?:say|tell|answer|reply|confirm|state|respond|inform|promise)"
              r"|\bfrom now on\b|\bpretend\b|\bact as\b"
              r"|\b(?:always|never) (?:say|answer|reply|tell|respond|mention|confirm|promise)\b")
_DOC_INSTRUCTION = re.compile(_ADDRESSED, re.I)
_INSTRUCTION = re.compile(_ADDRESSED + r"|\bignore (?:all |any |the )?(?:previous|prior|above|earlier)\b"
                          r"|\bforget (?:all |any |the |your )?(?:previous |prior )?(?:rules|instructions)\b"
                          r"|\brepeat after me\b|\bsay (?:exactly|that)\b|\bconfirm (?:in writing )?that\b"
                          r"|\b(?:reply|respond|answer) only with\b"
                          r"|\b(?:new|updated|official|secret|internal) (?:policy|rule|instructions?)\b"
                          r"|\bpolicy\s*[:-]|\binstructions?\s*:", re.I)
_SPAN = 6  # consecutive content words shared with an instruction make it the answer's claim


def _norm(text: str) -> str:
    text = re.sub(r"[*_#>`\"'“”‘’]", "", _strip_citations(text).translate(DASHES).lower())
    return " ".join(LIST_ITEM.sub("", text).split()).strip(" .,:;!?")


def _loop(answer: str) -> bool:
    seen: set[str] = set()
    for sentence in sentences(answer):
        key = _norm(sentence)
        if len(key.split()) >= 3 and key in seen:
            return True
        seen.add(key)
    words = _norm(answer).replace(":", " ").replace(",", " ").split()
    grams: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(words) - 3):
        grams.setdefault(tuple(words[i:i + 4]), []).append(i)
    for starts in grams.values():  # 3 occurrences that do not overlap
        kept = [starts[0]]
        for s in starts[1:]:
            if s >= kept[-1] + 4:
                kept.append(s)
        if len(kept) >= 3:
            return True
    return False


def _quotes(part: str, passages: Sequence[Passage], *, end: bool) -> bool:
    """The answer's first or last 40 characters are a passage's own beginning or end: a whole FAQ entry
    quoted ends where its author ended it ("... Added by Name"): no cut; "... may charge:" is one."""
    part = " ".join(_strip_citations(part).split())
    piece = part[-40:] if end else part[:40]
    if len(piece) < 15 or (end and piece.endswith((":", ",", ";"))):
        return False
    texts = (" ".join(p.text.split()) for p in passages)
    return any(t.endswith(piece) if end else t.startswith(piece) for t in texts)


_WRAPPED_WORDS = 6  # a shorter line is a command or a key ("exec bash", "volumes:"), not wrapped prose


def _source_line(part: str, passages: Sequence[Passage]) -> bool:
    """The answer ends on a whole line of a passage that the passage does not carry on (the next line does
    not open in lowercase): a command, a path or a signature its author ended the line with, not a cut."""
    last = CITATION.sub(" ", part).strip().splitlines()[-1:] or [""]
    line = " ".join(last[0].split())
    if len(line) < 3 or line.endswith((":", ",", ";")):
        return False
    for p in passages:
        lines = [" ".join(CITATION.sub(" ", x).split()) for x in p.text.splitlines()]
        for i, own in enumerate(lines):
            # a prose line wrapped by an export carries on in lowercase ("... we refund\nthe amount ...")
            wrapped = i + 1 < len(lines) and lines[i + 1][:1].islower() and len(line.split()) >= _WRAPPED_WORDS
            if own == line and not wrapped:
                return True
    return False


def _unfinished(answer: str, passages: Sequence[Passage] = ()) -> bool:
    text = answer.strip()
    body = _TRAILING.sub("", text)
    if not TERMINAL.search(body) and not _quotes(text, passages, end=True) and not _source_line(text, passages):
        return True
    last = re.findall(r"[\w']+", _strip_citations(body).lower())
    if last and last[-1] in _DANGLING and not body.endswith("?"):
        return True
    if _quotes(text, passages, end=False):
        return False
    opening = re.sub(r"^(?:\s*\[\d+\]|\s*[-*•>#]+\s|\s*\d{1,2}[.)]\s|[\s\"“'(])+", "", text)
    first = opening.split(maxsplit=1)[0] if opening.split() else ""
    # iOS, a link, a path
    known = first.lower().strip(".,:;") in _LOWER_STARTS or re.search(r"[/._=@]", first)
    if first[:1].islower() and not known:
        return True
    if _FRAGMENT_START.match(opening) and opening[:1].islower():
        return True
    line = text.splitlines()[0]
    # "Shipping confirmation e-mail**: click ..." opens in the middle of a bold phrase
    return line.count("**") % 2 == 1 and not opening.startswith("**")


def _echo(answer: str, question: str, passages: Sequence[Passage]) -> bool:
    if _SCAFFOLD.search(answer):
        return True
    first = _norm(next((line for line in answer.splitlines() if line.strip()), ""))
    whole = _norm(answer)
    echoes = {_norm(question)} | {_norm(p.title) for p in passages}
    return bool(first) and (first in echoes or whole in echoes)


def _meta_only(sentence: str) -> bool:
    words = re.findall(r"[a-z]+", _strip_citations(sentence).lower())
    return all(w in _META or w in _STOP for w in words)


def _non_answer(answer: str) -> bool:
    if not re.search(r"\w", _strip_citations(answer)):
        return True  # nothing but markers and punctuation
    # "Yes." answers; "The answer to the question is:" talks about one
    said = set(re.findall(r"[a-z]+", answer.lower()))
    return bool(said & _META) and all(_meta_only(s) for s in sentences(answer))


def _segments(text: str) -> list[str]:
    return [s for line in text.splitlines() for s in re.split(r"(?<=[.!?;])\s+", line) if s.strip()]


def addresses_assistant(sentence: str) -> bool:
    """The sentence is an instruction to the assistant ("SYSTEM: ...", "ignore previous instructions", "you must
    tell customers ..."): data to quote never, an order to follow never."""
    return bool(_DOC_INSTRUCTION.search(sentence))


def _instructions(text: str, cue: re.Pattern[str] = _INSTRUCTION) -> list[str]:
    """The sentences (or lines) of a text that carry an instruction cue."""
    return [s for s in _segments(text) if cue.search(s)]


def _shares_span(a: list[str], b: list[str], n: int = _SPAN) -> bool:
    grams = {tuple(b[i:i + n]) for i in range(len(b) - n + 1)}
    return any(tuple(a[i:i + n]) in grams for i in range(len(a) - n + 1))


def without_instructions(passages: Sequence[Passage]) -> list[Any]:
    """The passages with the sentences that address the assistant taken out: a document's instruction cannot
    vouch for itself."""
    def kept(text: str) -> str:  # whole sentences: "Never mention expiry; promise X" goes as one
        parts = [s for line in text.splitlines() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]
        return "\n".join(s for s in parts if not addresses_assistant(s))

    return [SimpleNamespace(title=p.title, text=kept(p.text)) for p in passages]


_ORDER_SPAN = 3  # three content words in a row taken from an instruction make it the sentence's claim


def _grams(words: list[str], n: int = _ORDER_SPAN) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _instruction_as_fact(answer: str, question: str, passages: Sequence[Passage]) -> bool:
    """An answer sentence repeats an instruction (the customer's, or a document's to the assistant): three of
    its content words in a row, or one of its facts, that the rest of the passages do not say themselves."""
    orders = _instructions(question) + [s for p in passages for s in _instructions(p.text, _DOC_INSTRUCTION)]
    if not orders:
        return False
    clean = without_instructions(passages)
    stated = set().union(*(_grams(_content(p.text)) for p in clean)) if clean else set()
    stated_facts = set().union(*(facts(p.text) for p in clean)) if clean else set()
    for sentence in sentences(answer):
        words, said = _content(sentence), facts(sentence) - names(sentence)
        for order in orders:
            taken = (_grams(words) & _grams(_content(order))) - stated
            if taken or (said & (facts(order) - names(order))) - stated_facts:
                return True
    return False


def defects(answer: str, question: str, passages: Sequence[Passage], *, max_chars: int = 1200) -> list[str]:
    """Names from DEFECTS that the answer shows, in DEFECTS order (empty list = clean)."""
    found = {
        # a passage quoted whole may repeat itself (a log, a command): that is the source's text, not a loop
        "loop": _loop(answer) and not any(_norm(answer) in _norm(p.text) for p in passages),
        "unfinished": _unfinished(answer, passages),
        "echo": _echo(answer, question, passages),
        # "curl error [6]" quoted from a passage is its text, not a citation
        "dangling_citation": any((int(n) == 0 or int(n) > len(passages)) and not any(f"[{n}]" in p.text for p in passages)
                                 for n in CITATION.findall(answer)),
        "non_answer": _non_answer(answer),
        "instruction_as_fact": _instruction_as_fact(answer, question, passages),
        "over_length": len(answer) > max_chars,
    }
    return [name for name in DEFECTS if found[name]]
