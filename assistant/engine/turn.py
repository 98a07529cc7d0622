"""One customer turn, top to bottom: paused, small talk, handoff, curated template, retrieve, language, abstain,
compose.

The facade (facade.py) validates the message, loads the conversation and the customer's site, classifies it, then
runs a `CustomerTurn` and stores what it produced:

    turn = CustomerTurn(assistant, site, text, classification, history, reply, timings, ...)

Everything said to the customer is the site's own (site_profile.py): its templates, handoff and abstain messages,
small talk in its name and its system prompt; the engine components (retriever, backend) are shared.
    async for event in turn.run(): ...

Each decision is one small method, in the order `run` takes them. Compose: the top FAQ entry's own answer;
else the model's draft shown sentence by sentence while each sentence passes the check (compose.py); else,
when no sentence passed, the extractive answer (whole passage sentences, cited).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from assistant.engine.backends import BackendError, GenerationRequest, SamplingParams
from assistant.engine.compose import (
    SentenceGate,
    answer_judge,
    extractive_answer,
    faq_answer,
    is_faq,
    needs_citation,
    said_key,
    supporting_passage,
    template_fits,
)
from assistant.engine.events import (
    Classification,
    HandoffEvent,
    Reply,
    Source,
    SourcesEvent,
    Timings,
    TokenEvent,
)
from assistant.engine.followup import is_elliptical, standalone_question
from assistant.engine.prompt import ECHO_STOPS
from assistant.engine.prompt import Turn as HistoryTurn
from assistant.engine.sentences import CITATION, sentences
from assistant.engine.site_profile import SiteProfile
from assistant.engine.smalltalk import TEMPLATE_INTENTS, small_talk
from assistant.engine.understanding import rephrase
from assistant.engine.understanding.config import DEFAULT_ABSTAIN_MESSAGE, DEFAULT_HANDOFF_MESSAGE
from assistant.engine.understanding.language import UNKNOWN, detect_language, localised
from assistant.engine.understanding.policy import ConversationState, Decision

log = logging.getLogger(__name__)


@dataclass
class CustomerTurn:
    """One turn's inputs and the reply it fills in. `assistant` is the facade: its engine components; `site` what
    the customer's site says."""

    assistant: Any
    site: SiteProfile
    text: str
    classification: Classification
    history: list[Any]
    reply: Reply
    timings: Timings
    t0: float
    namespace: str
    paused: bool = False
    sampling: SamplingParams | None = None
    adapter: str | None = None

    async def run(self) -> AsyncIterator[Any]:
        if self.paused:  # a person has the conversation: the assistant stays silent (the agent replies)
            async for event in self.say(Decision(route="paused", text="")):
                yield event
            return
        decision = self.small_talk() or self.handoff() or self.curated()
        query, hits = self.text, []
        if decision is None or self.policy.needs_corroboration(decision):
            query, hits = await asyncio.to_thread(self.retrieve)
            decision = self.corroborate(decision, hits, followup=is_elliptical(self.text, self.history))
        if decision is None:
            hits = self.pages_in_their_language(hits)
            decision = self.other_language(hits)
        if decision is None:
            hits, decision = await asyncio.to_thread(self.answer_or_abstain, hits)
        if decision.route == "generate":
            async for event in self.compose(query, hits):
                yield event
        else:
            async for event in self.say(decision, hits):
                yield event

    # -- the decisions, in order -------------------------------------------------------------
    @property
    def policy(self) -> Any:
        return self.site.policy  # the site's templates, handoff and abstain messages

    def state(self) -> ConversationState:
        users = [m for m in self.history if m.role == "user"]
        bots = [m for m in self.history if m.role == "assistant"]
        return ConversationState(sentiments=[m.sentiment or "neutral" for m in users],
                                 abstentions=[bool(m.abstained) for m in bots])

    def handoff(self) -> Decision | None:
        """A person is asked for, or the customer has been upset for several messages running."""
        return self.policy.handoff(self.text, self.classification, self.state())

    def small_talk(self) -> Decision | None:
        """Greetings, thanks, goodbyes, "are you a bot?", wordless messages: a short reply, no search. The
        site's own template for the matching intent speaks when it has one, else smalltalk.py's default.
        Before the handoff: "are you a bot?" is a question to answer (the reply offers a person), not a request."""
        kind = small_talk(self.text)
        if kind is None:
            return None
        if kind == "thanks" and not any(m.role == "assistant" for m in self.history):
            kind = "greeting"  # "🙂" or "thanks" before the assistant has said anything opens the chat
        for intent in TEMPLATE_INTENTS.get(kind, ()):
            rendered = self.policy.templates.select(intent, self.text)
            if rendered is not None:
                return Decision(route="smalltalk", text=rendered.text, template_id=rendered.template_id)
        return Decision(route="smalltalk", text=self.site.small_talk(kind))

    def curated(self) -> Decision | None:
        """The curated template of a confident intent (checked against retrieval before it is sent), when it is
        written in the customer's language."""
        decision = self.policy.template(self.text, self.classification)
        if decision is not None and not self.speaks(decision.text):
            return None
        return decision

    def speaks(self, text: str) -> bool:
        """Whether `text` is in the customer's language, as far as either can be told."""
        theirs = self.classification.language
        return theirs == UNKNOWN or detect_language(text) in (theirs, UNKNOWN)

    def retrieve(self) -> tuple[str, list[Any]]:
        """(the text searched with, its hits): a follow-up ("And for an exchange?") carries the earlier
        question's topic (followup.py)."""
        t = time.perf_counter()
        k, search = self.assistant.settings.retrieval.top_k, self.assistant.retriever.search
        query = standalone_question(self.text, self.history, search=lambda q: search(q, k, self.namespace),
                                    min_score=self.assistant.settings.understanding.min_retrieval_score)
        hits = search(query, k, self.namespace)
        self.timings.retrieval_ms = (time.perf_counter() - t) * 1000
        return query, hits

    def corroborate(self, decision: Decision | None, hits: list[Any], followup: bool = False) -> Decision | None:
        """A template with sources answers only when retrieval also found one of its pages; for a follow-up, only
        when its page leads ("how long will it take?" after a zip repair is not shipping times, whatever the
        intent model reads in those four words); and only when it fits the question as closely as that page does."""
        if decision is None:
            return None
        retrieved = [h.doc_id for h in hits]
        if not self.policy.corroborated(decision, retrieved[:1] if followup else retrieved):
            log.info("template %s not corroborated by retrieval; answering from the knowledge base",
                     decision.template_id)
            return None
        if not self.fits(decision, hits):
            log.info("template %s answers less closely than its page; answering from the page", decision.template_id)
            return None
        return decision

    def fits(self, decision: Decision, hits: list[Any]) -> bool:
        """The template answers this question about as closely as the top page's best sentence: the price list is
        no answer to "do I pay postage twice when my order comes in two boxes?" (compose.template_fits)."""
        try:
            return template_fits(self.text, decision.text, hits[0], self.assistant.context.encode)
        except Exception:  # the curated reply never depends on the encoder being up
            log.exception("template fit check failed; sending the template")
            return True

    def pages_in_their_language(self, hits: list[Any]) -> list[Any]:
        """Only the pages in the customer's language, when the search found any (a site with pages in several
        languages): the answer quotes its pages, and the score threshold then judges those pages alone."""
        if self.classification.language == UNKNOWN:
            return hits
        return [h for h in hits if self.speaks(h.text)] or hits

    def other_language(self, hits: list[Any]) -> Decision | None:
        """The knowledge base answers in another language than the customer's: say so in theirs and offer a
        person (a second such message is a repeated abstention, which hands off). The encoder reads English only,
        so a page in the customer's language is the only one that can be matched to their question."""
        if not hits or self.speaks(hits[0].text):
            return None
        decision = self.policy.after_retrieval([], self.state())  # abstain, or hand off when it repeats
        if decision.route == "abstain":
            decision = replace(decision, text=localised(self.classification.language, "other_language")
                               or decision.text)
        log.info("question in %s, top page not: %s", self.classification.language, decision.route)
        return decision

    def answer_or_abstain(self, hits: list[Any]) -> tuple[list[Any], Decision]:
        """Answer when retrieval is confident, else abstain (or hand off after repeated abstentions); a confident
        intent first moves its own page to the top of a near-tie."""
        hits = self.assistant.lead_with_intent_page(self.classification, hits, self.namespace, self.site)
        return hits, self.policy.after_retrieval([h.score for h in hits], self.state())

    async def compose(self, query: str, hits: list[Any]) -> AsyncIterator[Any]:
        """The top FAQ entry's own answer (an abstention when it has none); else the model's draft, checked
        unless engine.answers says otherwise; else (or in extractive mode) the extractive answer. `query` (the question with a follow-up's topic) picks the sentences; the model reads
        the customer's own words."""
        reply, timings = self.reply, self.timings
        if is_faq(hits[0]):
            answer = faq_answer(hits[0])
            if not answer:  # the matching entry says nothing usable ("Error:", its picture lost): no answer
                async for event in self.say(self.policy.after_retrieval([], self.state()), hits):
                    yield event
                return
            reply.route, reply.sources = "faq", [source(1, hits[0])]
            yield SourcesEvent(sources=reply.sources)
            reply.answer = answer
            timings.ttft_ms = (time.perf_counter() - self.t0) * 1000
            yield TokenEvent(text=reply.answer)
            return
        reply.sources = [source(i, h) for i, h in enumerate(hits, start=1)]
        mode = self.assistant.answer_mode  # checked, extractive or unchecked (engine.answers)
        if mode == "extractive":  # known before anything is sent: the customer sees only the pages it quotes
            answer = await asyncio.to_thread(self.extractive, query, hits)
            number = {n: i for i, n in enumerate(sorted({int(n) for n in CITATION.findall(answer)}), start=1)}
            reply.route = "extractive"
            reply.answer = CITATION.sub(lambda m: f"[{number[int(m.group(1))]}]", answer)  # [2] alone reads [1]
            reply.sources = [source(i, hits[n - 1]) for n, i in number.items()] or reply.sources[:1]
            yield SourcesEvent(sources=reply.sources)
            timings.ttft_ms = (time.perf_counter() - self.t0) * 1000
            yield TokenEvent(text=reply.answer)
            return
        yield SourcesEvent(sources=reply.sources)
        gate = SentenceGate(answer_judge(self.text, hits)) if mode == "checked" else None
        parts: list[str] = []
        async for shown in self.generate(hits, gate, parts):
            if timings.ttft_ms is None:
                timings.ttft_ms = (time.perf_counter() - self.t0) * 1000
            yield TokenEvent(text=shown)
        if gate is None:
            reply.route, reply.answer = "generate", "".join(parts).strip()
            return
        if gate.reason is not None:
            log.info("answer check stopped the draft after %d sentence(s): %s", len(gate.shown), gate.reason)
        if gate.shown:
            reply.route, reply.answer = "generate", gate.text
            if needs_citation(reply.answer):
                addition = f" [{supporting_passage(reply.answer, hits)}]"
                reply.answer += addition
                yield TokenEvent(text=addition)
            return
        # none of the draft's sentences passed: the passages' own closest sentences, cited
        reply.route, reply.answer = "extractive", await asyncio.to_thread(self.extractive, query, hits)
        timings.ttft_ms = (time.perf_counter() - self.t0) * 1000
        yield TokenEvent(text=reply.answer)

    async def generate(self, hits: list[Any], gate: SentenceGate | None, parts: list[str]) -> AsyncIterator[str]:
        """Stream the model's draft (through the gate when there is one); `parts` collects the raw deltas."""
        bot = self.assistant
        excerpts = await asyncio.to_thread(bot.context.select_safely, self.text, hits)
        messages = self.site.prompt.build(self.text, excerpts, [HistoryTurn(m.role, m.content) for m in self.history])
        params = self.sampling or bot.default_sampling()  # a copy below: the caller's stays untouched
        params = replace(params, stop=[*params.stop, *(s for s in ECHO_STOPS if s not in params.stop)])
        request = GenerationRequest(messages=messages, sampling=params, adapter=self.adapter,
                                    request_id=self.reply.message_id)
        self.timings.prompt_tokens = bot.backend.count_tokens(messages)
        t = time.perf_counter()
        stream = bot.backend.stream(request)
        try:
            async for piece in stream:
                parts.append(piece)
                shown = gate.feed(piece) if gate is not None else piece
                if shown:
                    yield shown
                if gate is not None and gate.closed:
                    break  # closing the stream below frees the engine's slot
        finally:
            close = getattr(stream, "aclose", None)  # an async generator: closing it cancels the request
            if close is not None:
                await close()
        if gate is not None:
            tail = gate.finish()
            if tail:
                yield tail
        seconds = time.perf_counter() - t
        self.timings.completion_tokens = len(parts)
        self.timings.tokens_per_second = len(parts) / seconds if seconds > 0 and parts else None

    def extractive(self, query: str, hits: list[Any]) -> str:
        """The passages' closest sentences; a follow-up ("my neighbours don't have it either") gets the next ones,
        not the sentence it was just given, unless the passages hold nothing else."""
        encode = self.assistant.context.encode
        said = frozenset(said_key(s) for m in self.history if m.role == "assistant" for s in sentences(m.content))
        try:  # the selector's encoder: it has just embedded these sentences with this question
            # a table row counts as asked for when the customer's own words name it, not the follow-up's carried topic
            return (extractive_answer(query, hits, encode, said=said, asked=self.text)
                    or extractive_answer(query, hits, encode, asked=self.text)
                    or extractive_answer(query, hits, encode, min_chars=1, asked=self.text))
        except Exception:  # an encoder failure must not lose the turn: the top passage's opening sentence then
            log.exception("extractive answer failed; using the top passage's opening")
            return extractive_answer(query, hits, None, min_chars=1)

    async def say(self, decision: Decision, hits: list[Any] = ()) -> AsyncIterator[Any]:
        """A decided reply: paused (silent: no text, no token), handoff, small talk, template or abstention (in the
        customer's language when the product has the text in it)."""
        reply = self.reply
        reply.route, reply.answer = decision.route, self.in_their_language(decision)
        if decision.route == "template" and self.assistant.settings.understanding.rephrase_templates:
            reply.answer = await self.rephrase(decision)
        reply.template_id = decision.template_id
        reply.abstained = decision.route == "abstain"
        reply.handoff = decision.handoff
        if reply.handoff is not None:
            self.after_hours()
        if decision.route == "template" and decision.sources:
            # a page the corroborating search found is cited with its title, link and passage
            found = {h.doc_id: h for h in reversed(list(hits))}
            reply.sources = [source(i, found[d]) if d in found
                             else Source(index=i, doc_id=d, title=d, snippet="", score=1.0)
                             for i, d in enumerate(decision.sources, start=1)]
            yield SourcesEvent(sources=reply.sources)
        self.timings.ttft_ms = (time.perf_counter() - self.t0) * 1000
        if reply.answer:  # paused: nothing to say
            yield TokenEvent(text=reply.answer)
        if reply.handoff is not None:
            yield HandoffEvent(handoff=reply.handoff)

    def after_hours(self) -> None:
        """Outside the site's opening hours a handoff says when a person answers and invites an e-mail address
        (the widget then shows a field for it); the conversation is handed off all the same."""
        notice = self.site.handoff_notice(language=self.classification.language)
        if notice.after_hours and self.reply.handoff is not None:
            self.reply.answer = notice.text
            self.reply.handoff = self.reply.handoff.model_copy(update={"after_hours": True,
                                                                       "opens_at": notice.opens_at})

    def in_their_language(self, decision: Decision) -> str:
        """The default abstain and handoff texts in the customer's language; an operator's own text as written."""
        site = self.policy.config  # the site's own messages
        defaults = {"abstain": (site.abstain_message, DEFAULT_ABSTAIN_MESSAGE),
                    "handoff": (site.handoff_message, DEFAULT_HANDOFF_MESSAGE)}
        configured, default = defaults.get(decision.route, (None, None))
        if decision.text and decision.text == configured == default:
            return localised(self.classification.language, decision.route) or decision.text
        return decision.text or ""

    async def rephrase(self, decision: Decision) -> str:
        """The model's rewording of a template reply when it kept every fact, else the template as written."""
        # ~4 characters a token: twice the template's length is room enough for a rewording, not for an essay
        sampling = SamplingParams(temperature=0.0, max_tokens=max(32, len(decision.text) // 2))
        request = GenerationRequest(messages=rephrase.messages(self.text, decision.text), sampling=sampling,
                                    request_id=self.reply.message_id)
        try:
            generation = await self.assistant.backend.generate(request)
        except BackendError as exc:  # the curated reply never depends on the model being up
            log.warning("template %s sent as written: rephrasing failed: %s", decision.template_id, exc)
            return decision.text
        self.timings.prompt_tokens = generation.prompt_tokens
        self.timings.completion_tokens = generation.completion_tokens
        verdict = rephrase.check(decision.text, generation.text, decision.facts)
        if generation.finish_reason == "length" or not verdict.ok:
            log.info("template %s sent as written: the rephrasing %s", decision.template_id,
                     "was cut off" if verdict.ok else verdict.reason)
            return decision.text
        return generation.text.strip()


def source(index: int, hit: Any) -> Source:
    return Source(index=index, doc_id=hit.doc_id, chunk_id=getattr(hit, "chunk_id", ""), title=hit.title,
                  snippet=hit.text[:300], score=float(hit.score), url=getattr(hit, "url", None),
                  section=getattr(hit, "section", None))
