"""The `Assistant` facade: one turn = understand -> (template | retrieve -> generate | abstain | hand off).

Server routes, CLI, console and SDK-backed tools all call this and nothing below it.

    assistant = Assistant.from_settings(Settings())
    await assistant.start()
    reply = await assistant.chat("How long do refunds take?")
    async for event in assistant.stream("Where is my parcel?", conversation_id=reply.conversation_id): ...
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from assistant.engine.backends import Backend, BackendError, GenerationRequest, SamplingParams, create_backend
from assistant.engine.context import SourceSelector
from assistant.engine.events import (
    Classification,
    ClassificationEvent,
    DoneEvent,
    Handoff,
    HandoffEvent,
    Reply,
    Source,
    SourcesEvent,
    Timings,
    TokenEvent,
)
from assistant.engine.guard import OpeningGuard, extractive_answer, needs_citation, quoted_from
from assistant.engine.intent_pages import IntentPages
from assistant.engine.prompt import ECHO_STOPS, PromptBuilder, Turn
from assistant.engine.settings import Settings
from assistant.engine.store import ConversationNotFound, Store, new_id
from assistant.engine.understanding import rephrase
from assistant.engine.understanding.policy import ConversationState

log = logging.getLogger(__name__)

PAUSED_MESSAGE = "A member of our support team has this conversation and will reply here shortly."


class InvalidMessage(ValueError):
    """The customer message is empty or too long; nothing is stored."""


class Assistant:
    def __init__(self, settings: Settings, *, backend: Backend, retriever: Any, understanding: Any,
                 policy: Any, store: Store) -> None:
        self.settings = settings
        self.backend = backend
        self.retriever = retriever
        self.understanding = understanding
        self.policy = policy
        self.store = store
        self.prompt = PromptBuilder(settings.system_prompt, settings.company)
        self.context = SourceSelector.from_settings(settings, retriever)
        self.intent_pages = IntentPages(retriever)
        self.on_handoff: list[Any] = []  # callbacks(reply, transcript); the webhook is one of them

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings, *, backend: Backend | None = None, progress: bool = True) -> Assistant:
        """Build every component once: index (ingesting the sample KB on first start), intent model, store."""
        from assistant.engine.knowledge import open_retriever
        from assistant.engine.understanding import Understanding
        from assistant.engine.understanding.policy import AnswerPolicy

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        retriever = open_retriever(settings, progress=progress)
        understanding = Understanding.from_settings(settings)
        policy = AnswerPolicy(settings.understanding, understanding.templates)
        store = Store(settings.resolved_database_url)
        assistant = cls(settings, backend=backend or create_backend(settings), retriever=retriever,
                        understanding=understanding, policy=policy, store=store)
        if settings.understanding.handoff_webhook_url:
            assistant.on_handoff.append(_webhook(settings))
        return assistant

    async def start(self) -> None:
        await self.backend.start()

    async def close(self) -> None:
        await self.backend.close()
        self.store.close()

    # -- public API --------------------------------------------------------------------------
    def classify(self, text: str) -> Classification:
        return self.understanding.classify(text)

    def intent_vouches(self, cls: Classification, top_doc: str, namespace: str = "default") -> bool:
        """The intent's own training messages land on `top_doc` too (searched once per index version)."""
        if cls.intent is None:
            return False
        return self.policy.intent_agrees(self._intent_shares(cls, namespace), top_doc)

    def lead_with_intent_page(self, cls: Classification, hits: list[Any], namespace: str = "default") -> list[Any]:
        """`hits` with the confident intent's own page first when retrieval ranked it in a near-tie below the top."""
        if not hits or not self.policy.intent_can_break_ties(cls):
            return hits
        page = self.policy.intent_page(self._intent_shares(cls, namespace), [(h.doc_id, h.score) for h in hits])
        if page is None:
            return hits
        return [h for h in hits if h.doc_id == page] + [h for h in hits if h.doc_id != page]

    def _intent_shares(self, cls: Classification, namespace: str) -> dict[str, float]:
        """Where the intent's own training messages land (IntentPages: searched once per index version)."""
        examples = self.understanding.intents.examples.get(cls.intent, [])
        return self.intent_pages.shares(cls.intent, examples, namespace)

    def validate(self, message: str) -> str:
        text = (message or "").strip()
        if not text:
            raise InvalidMessage("message must not be empty")
        if len(text) > self.settings.server.max_message_chars:
            raise InvalidMessage(
                f"message is {len(text)} characters; the limit is {self.settings.server.max_message_chars}"
            )
        return text

    async def chat(self, message: str, conversation_id: str | None = None, **kwargs: Any) -> Reply:
        reply: Reply | None = None
        async for event in self.stream(message, conversation_id, **kwargs):
            if isinstance(event, DoneEvent):
                reply = event.reply
        assert reply is not None  # stream always ends with done or raises
        return reply

    async def stream(self, message: str, conversation_id: str | None = None, *, site_id: str = "default",
                     namespace: str | None = None, adapter: str | None = None,
                     sampling: SamplingParams | None = None) -> AsyncIterator[Any]:
        """Run one turn, yielding typed events; persists the turn atomically once it completes.

        Raises InvalidMessage / ConversationNotFound before anything is yielded or stored.
        """
        text = self.validate(message)
        t0 = time.perf_counter()
        history = []
        status = "active"
        if conversation_id is not None:
            conv = self.store.get_conversation(conversation_id, site_id)
            status = conv.status
            history = conv.messages[-20:]
        conv_id = conversation_id or new_id()
        message_id = new_id()

        cls = await asyncio.to_thread(self.understanding.classify, text)
        t_cls = time.perf_counter()
        yield ClassificationEvent(conversation_id=conv_id, classification=cls)
        reply = Reply(conversation_id=conv_id, message_id=message_id, answer="", intent=cls.intent,
                      confidence=cls.confidence, intents=cls.intents, sentiment=cls.sentiment,
                      model=self.backend.model_id)
        timings = Timings(understanding_ms=(t_cls - t0) * 1000)
        state = self._state(history)

        if status == "handoff":
            reply.route, reply.answer = "paused", PAUSED_MESSAGE
            yield TokenEvent(text=reply.answer)
        else:
            decision = self.policy.before_retrieval(text, cls, state)
            hits: list[Any] = []
            if decision is None or self.policy.needs_corroboration(decision):
                t_r = time.perf_counter()
                hits = await asyncio.to_thread(
                    self.retriever.search, text, self.settings.retrieval.top_k, namespace or site_id
                )
                timings.retrieval_ms = (time.perf_counter() - t_r) * 1000
                if decision is not None and not self.policy.corroborated(
                    decision, [h.doc_id for h in hits], self.retriever.indexed(decision.sources, namespace or site_id)
                ):
                    log.info("template %s not corroborated by retrieval; answering from the knowledge base",
                             decision.template_id)
                    decision = None
                if decision is None:
                    if hits and self.policy.intent_can_break_ties(cls):  # else no thread hop on the hot path
                        hits = await asyncio.to_thread(self.lead_with_intent_page, cls, hits, namespace or site_id)
                    scores = [h.score for h in hits]
                    agrees = False
                    if self.policy.needs_intent_check(cls, scores):
                        agrees = await asyncio.to_thread(self.intent_vouches, cls, hits[0].doc_id,
                                                         namespace or site_id)
                    decision = self.policy.after_retrieval(scores, state, intent_agrees=agrees)
                if decision.route == "generate":
                    reply.sources = [_source(i, h) for i, h in enumerate(hits, start=1)]
                    yield SourcesEvent(sources=reply.sources)
                    excerpts = await asyncio.to_thread(self._excerpts, text, hits)
                    messages = self.prompt.build(text, excerpts, [Turn(m.role, m.content) for m in history])
                    params = sampling or self._default_sampling()  # a copy below: the caller's stays untouched
                    params = replace(params, stop=[*params.stop, *(s for s in ECHO_STOPS if s not in params.stop)])
                    request = GenerationRequest(messages=messages, sampling=params, adapter=adapter,
                                                request_id=message_id)
                    timings.prompt_tokens = self.backend.count_tokens(messages)
                    parts: list[str] = []
                    held: list[str] = []  # the opening, until the guard releases it
                    guarded = self.settings.engine.answer_guard
                    guard, verdict = OpeningGuard(text, hits), (None if guarded else "ok")
                    t_gen = time.perf_counter()
                    stream = self.backend.stream(request)
                    try:
                        async for piece in stream:
                            parts.append(piece)
                            if verdict == "ok":
                                if timings.ttft_ms is None:
                                    timings.ttft_ms = (time.perf_counter() - t0) * 1000
                                yield TokenEvent(text=piece)
                                continue
                            held.append(piece)
                            verdict = guard.judge("".join(held))
                            if verdict == "ok":
                                timings.ttft_ms = (time.perf_counter() - t0) * 1000
                                yield TokenEvent(text="".join(held))
                            elif verdict is not None:
                                break  # closing the stream below frees the engine's slot
                    finally:
                        close = getattr(stream, "aclose", None)  # an async generator: closing it cancels the request
                        if close is not None:
                            await close()
                    if verdict is None and held:  # the whole answer fit in the undecided opening
                        verdict = guard.judge("".join(held), finished=True)
                        if verdict == "ok":
                            timings.ttft_ms = (time.perf_counter() - t0) * 1000
                            yield TokenEvent(text="".join(held))
                    reply.answer = "".join(parts).strip() if verdict == "ok" else ""
                    if not reply.answer:  # echoed the prompt, a title or the question, or said nothing
                        if verdict not in (None, "ok"):
                            log.info("answer guard replaced a %s with the extractive answer", verdict)
                        reply.answer = (await asyncio.to_thread(self._extractive, text, hits) if guarded
                                        else self.prompt.fallback_answer(hits))
                        timings.ttft_ms = (time.perf_counter() - t0) * 1000
                        yield TokenEvent(text=reply.answer)
                    elif guarded and len(parts) < params.max_tokens and needs_citation(reply.answer):
                        # not an answer cut at max_tokens (counted as the OpenAI route counts finish_reason=length)
                        number = quoted_from(reply.answer, hits)  # the model quoted a passage: just cite it
                        addition = f" [{number}]" if number else f"\n\n{await asyncio.to_thread(self._extractive, text, hits)}"
                        if addition.strip():
                            reply.answer += addition
                            yield TokenEvent(text=addition)
                    timings.completion_tokens = len(parts)
                    gen_s = time.perf_counter() - t_gen
                    timings.tokens_per_second = len(parts) / gen_s if gen_s > 0 and parts else None
                    reply.route = "generate"
            if decision.route != "generate":
                reply.route = decision.route
                reply.answer = decision.text or ""
                if decision.route == "template" and self.settings.understanding.rephrase_templates:
                    reply.answer = await self._rephrase(text, decision, timings, message_id)
                reply.template_id = getattr(decision, "template_id", None)
                reply.abstained = decision.route == "abstain"
                reply.handoff = decision.handoff
                if decision.route == "template" and getattr(decision, "sources", None):
                    # a page the corroborating search found is cited with its title, link and passage
                    found = {h.doc_id: h for h in reversed(hits)}
                    reply.sources = [_source(i, found[d]) if d in found
                                     else Source(index=i, doc_id=d, title=d, snippet="", score=1.0)
                                     for i, d in enumerate(decision.sources, start=1)]
                    yield SourcesEvent(sources=reply.sources)
                timings.ttft_ms = (time.perf_counter() - t0) * 1000
                yield TokenEvent(text=reply.answer)
                if reply.handoff is not None:
                    yield HandoffEvent(handoff=reply.handoff)

        timings.total_ms = (time.perf_counter() - t0) * 1000
        reply.timings = timings
        stored_id, _ = await asyncio.to_thread(self._persist, conv_id, conversation_id is None, site_id, text, cls,
                                               reply)
        reply.message_id = stored_id
        if reply.handoff is not None:
            self._notify_handoff(reply, history, text)
        yield DoneEvent(reply=reply)

    # -- internals ---------------------------------------------------------------------------
    async def _rephrase(self, question: str, decision: Any, timings: Timings, request_id: str) -> str:
        """The model's rewording of a template reply when it kept every fact, else the template as written."""
        # ~4 characters a token: twice the template's length is room enough for a rewording, not for an essay
        sampling = SamplingParams(temperature=0.0, max_tokens=max(32, len(decision.text) // 2))
        request = GenerationRequest(messages=rephrase.messages(question, decision.text), sampling=sampling,
                                    request_id=request_id)
        try:
            generation = await self.backend.generate(request)
        except BackendError as exc:  # the curated reply never depends on the model being up
            log.warning("template %s sent as written: rephrasing failed: %s", decision.template_id, exc)
            return decision.text
        timings.prompt_tokens, timings.completion_tokens = generation.prompt_tokens, generation.completion_tokens
        verdict = rephrase.check(decision.text, generation.text, decision.facts)
        if generation.finish_reason == "length" or not verdict.ok:
            log.info("template %s sent as written: the rephrasing %s", decision.template_id,
                     "was cut off" if verdict.ok else verdict.reason)
            return decision.text
        return generation.text.strip()

    def _excerpts(self, question: str, hits: list[Any]) -> list[Any]:
        try:
            return self.context.select(question, hits)
        except Exception:  # an encoder failure must not lose the turn: the passages whole then
            log.exception("source selection failed; the model reads the top passages whole")
            return hits[: self.context.passages]

    def _extractive(self, question: str, hits: list[Any]) -> str:
        try:  # the selector's encoder: it has just embedded these sentences with this question
            return extractive_answer(question, hits, self.context.encode) or self.prompt.fallback_answer(hits)
        except Exception:  # an encoder failure must not lose the turn: the opening sentences then
            log.exception("extractive answer failed; using the top passage's opening")
            return self.prompt.fallback_answer(hits)

    def _default_sampling(self) -> SamplingParams:
        e = self.settings.engine
        return SamplingParams(temperature=e.temperature, top_p=e.top_p, max_tokens=e.max_new_tokens)

    def _state(self, history: list[Any]) -> Any:
        users = [m for m in history if m.role == "user"]
        bots = [m for m in history if m.role == "assistant"]
        return ConversationState(
            sentiments=[m.sentiment or "neutral" for m in users],
            abstentions=[bool(m.abstained) for m in bots],
            handed_off=False,
        )

    def _persist(self, conv_id: str, is_new: bool, site_id: str, text: str, cls: Classification,
                 reply: Reply) -> tuple[str, str]:
        from assistant.engine.privacy import redact

        user = {
            "content": redact(text, self.settings.security), "intent": cls.intent, "confidence": cls.confidence, "out_of_scope": cls.out_of_scope,
            "sentiment": cls.sentiment.label, "sentiment_score": cls.sentiment.score,
        }
        bot = {
            "id": reply.message_id, "content": redact(reply.answer, self.settings.security), "intent": reply.intent, "confidence": reply.confidence,
            "route": reply.route, "template_id": reply.template_id, "abstained": reply.abstained,
            "handoff_reason": reply.handoff.reason if reply.handoff else None,
            "sources": [s.model_dump() for s in reply.sources], "timings": reply.timings.model_dump(),
            "model": reply.model,
        }
        if not is_new and not self.store.exists(conv_id):
            raise ConversationNotFound(conv_id)  # erased while this turn ran: don't resurrect it
        _, msg_id = self.store.add_turn(conv_id, site_id, user, bot,
                                        handoff_reason=reply.handoff.reason if reply.handoff else None)
        return msg_id, msg_id

    def _notify_handoff(self, reply: Reply, history: list[Any], text: str) -> None:
        transcript = [{"role": m.role, "content": m.content, "intent": m.intent, "sentiment": m.sentiment}
                      for m in history]
        transcript.append({"role": "user", "content": text, "intent": reply.intent,
                           "sentiment": reply.sentiment.label if reply.sentiment else None})
        for callback in self.on_handoff:
            try:
                callback(reply, transcript)
            except Exception:  # noqa: BLE001 - a broken webhook must not break the chat
                log.exception("handoff callback failed")


def _webhook(settings: Settings) -> Any:
    """Handoff callback that POSTs a summary to the configured webhook without blocking the turn."""
    import threading

    from assistant.engine.understanding.handoff import post_handoff, summarize

    cfg = settings.understanding

    def notify(reply: Reply, transcript: list[dict[str, Any]]) -> None:
        assert reply.handoff is not None
        payload = {
            "event": "handoff", "conversation_id": reply.conversation_id, "reason": reply.handoff.reason,
            "detail": reply.handoff.detail, "summary": summarize(transcript, reply.handoff.reason),
            "intent": reply.intent, "sentiment": reply.sentiment.label if reply.sentiment else None,
        }
        threading.Thread(target=post_handoff, args=(cfg.handoff_webhook_url, payload, cfg.handoff_webhook_timeout_s),
                         daemon=True).start()

    return notify


def _source(index: int, hit: Any) -> Source:
    return Source(index=index, doc_id=hit.doc_id, chunk_id=getattr(hit, "chunk_id", ""), title=hit.title,
                  snippet=hit.text[:300], score=float(hit.score), url=getattr(hit, "url", None),
                  section=getattr(hit, "section", None))


__all__ = ["Assistant", "BackendError", "ConversationNotFound", "Handoff", "InvalidMessage"]
