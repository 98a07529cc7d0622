"""The `Assistant` facade: builds the engine once; a turn = validate, classify, run it (turn.py), store it.

Server routes, CLI, console and SDK-backed tools all call this and nothing below it.

    assistant = Assistant.from_settings(Settings())
    await assistant.start()
    reply = await assistant.chat("How long do refunds take?")
    async for event in assistant.stream("Where is my parcel?", conversation_id=reply.conversation_id): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.engine.audit import AuditedSites, AuditLog
from assistant.engine.backends import Backend, BackendError, SamplingParams, create_backend
from assistant.engine.context import SourceSelector
from assistant.engine.conversation_export import ConversationExport
from assistant.engine.conversations import Conversations, TranscriptTurn, transcript
from assistant.engine.errors import InvalidMessage  # noqa: F401 - re-exported
from assistant.engine.events import (
    Classification,
    ClassificationEvent,
    DoneEvent,
    Handoff,
    Reply,
    Timings,
)
from assistant.engine.intent_pages import IntentPages
from assistant.engine.intent_versions import SiteIntents
from assistant.engine.knowledge import KnowledgeBase, open_retriever
from assistant.engine.prompt import PromptBuilder
from assistant.engine.queue import AgentQueue
from assistant.engine.served_model import ServedModel
from assistant.engine.settings import Settings
from assistant.engine.site_profile import HandoffNotice, SiteProfile, SiteProfiles
from assistant.engine.sites import DEFAULT_SITE
from assistant.engine.store import ConversationNotFound, Store, new_id
from assistant.engine.template_versions import SiteTemplates
from assistant.engine.turn import CustomerTurn
from assistant.engine.unanswered import Unanswered
from assistant.engine.webhooks import WebhookSender

if TYPE_CHECKING:
    from assistant.engine.alerts import Alert, SurgeMonitor
    from assistant.engine.intent_examples import RetrainReport

log = logging.getLogger(__name__)
T = TypeVar("T")

# Repetition controls of every generated answer (SamplingParams; 1.0 / 0 = off). Every engine here counts the
# prompt's tokens too, so both also keep the model from quoting its sources: with a penalty of 1.3 fewer drafts
# pass the answer check; with no repeated 8-grams more pass, but they paraphrase their sources into wrong facts
# ("valid for 12 weeks" for 12 months). bench/repetition.py, docs/benchmarks.md "Repetition controls". Loops stay
# bounded by the token budget (engine.max_new_tokens) and the answer check, which ends an answer at a repeat.
REPETITION_PENALTY = 1.0
NO_REPEAT_NGRAM = 0


def _readable_by_all(folder: Path) -> None:
    """Let every user read what `prepare` built: the server often runs as another user than the one who prepared
    (an image's non-root user, a service account), and temporary folders and some writers create files as 0600/0700."""
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        wanted = mode | 0o444 | (0o111 if path.is_dir() else 0)
        if wanted != mode:
            with contextlib.suppress(PermissionError):  # another user's file in a shared cache: theirs to share
                path.chmod(wanted)


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
        self.on_handoff: list[Any] = []  # callbacks(reply, list[TranscriptTurn]); the webhook is one of them
        # What routes, CLI and console read and change of the stored data: never the store itself.
        self.conversations = Conversations(store, settings.security)
        self.exports = ConversationExport(store, settings.security)  # redacted JSONL/CSV downloads, audited
        self.sites = AuditedSites(store)  # a SiteDirectory that writes site and key changes to the audit log
        # The people who answer: the agent queue, its webhooks and the audit log of what agents and admins did.
        self.audit = AuditLog(store)
        self.webhooks = WebhookSender(store, fallback_url=settings.understanding.handoff_webhook_url)
        self.handoffs = AgentQueue(store, self.conversations, self.webhooks)
        # What each site says to its customers: company, prompt, messages, templates, intents (site_profile.py).
        self.profiles = SiteProfiles(self)
        # The documents they upload, list, delete and search, the index's status: never the retriever itself.
        self.knowledge = KnowledgeBase(retriever, settings)
        # What the assistant could not answer, grouped by meaning; an operator's answer becomes the site's FAQ entry.
        self.unanswered = Unanswered(store, self.knowledge, self.sites, self.embed)
        # What they know of the chat model (name, tokens, adapters, queue): never the backend itself.
        self.model = ServedModel(backend)
        # Each site's templates edited in the console or over the API, versioned and audited (template_versions.py).
        self.templates = SiteTemplates(self)
        # Each site's intent examples edited, versioned and audited, and its model retrained (intent_versions.py).
        self.intents = SiteIntents(self)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings, *, backend: Backend | None = None, progress: bool = True) -> Assistant:
        """Build every component once: index (ingesting the sample KB on first start), intent model, store."""
        from assistant.engine.understanding import Understanding
        from assistant.engine.understanding.policy import AnswerPolicy

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        retriever = open_retriever(settings, progress=progress)
        understanding = Understanding.from_settings(settings)
        policy = AnswerPolicy(settings.understanding, understanding.templates)
        store = Store(settings.resolved_database_url)
        assistant = cls(settings, backend=backend or create_backend(settings), retriever=retriever,
                        understanding=understanding, policy=policy, store=store)
        return assistant

    @classmethod
    async def prepare(cls, settings: Settings) -> None:
        """Do ahead the one-time work of a first start, into the model cache that every data directory shares.

        The chat model's conversion for the engine `auto` picks, the embedding and classifier ONNX exports
        and the intent model of the configured intent data: everything is built once in a throw-away data
        directory, then the models stay in settings.cache_dir. `make install` runs it (`assistant prepare`).
        """
        import tempfile

        with tempfile.TemporaryDirectory(prefix="assistant-prepare-") as tmp:
            scratch = settings.model_copy(update={"data_dir": Path(tmp), "model_cache_dir": settings.cache_dir,
                                                  "database_url": ""})
            assistant = cls.from_settings(scratch, progress=False)
            await assistant.start()
            await assistant.close()
        _readable_by_all(settings.cache_dir)

    async def start(self) -> None:
        await self.backend.start()

    async def close(self) -> None:
        await asyncio.to_thread(self.webhooks.close)  # a few seconds for deliveries in flight
        await self.backend.close()
        self.store.close()

    # -- public API --------------------------------------------------------------------------
    def classify(self, text: str) -> Classification:
        return self.understanding.classify(text)

    def embed(self, texts: list[str]) -> Any:
        """Unit vectors (n, dims) of `texts` from the knowledge base's embedding model (None without one)."""
        return self.knowledge.embed(texts)

    # -- intents: the console's intents tab -------------------------------------------------------------
    def intent_labels(self) -> list[str]:
        """What an operator can assign a message to: the running intent model's intents and the out-of-scope
        training label, sorted."""
        from assistant.engine.understanding.intent_model import OOS_LABEL

        return sorted({*self.understanding.intents.labels, OOS_LABEL})

    def retrain_intents(self, *, progress: bool = False) -> RetrainReport:
        """Retrain the intent model on the base and operator examples and swap it in (intent_examples;
        RetrainRefused when an intent has too few examples, ReviewError while another retrain runs)."""
        from assistant.engine.intent_examples import retrain_intents

        return retrain_intents(self.settings, self.understanding, progress=progress)

    # -- alerts: the console's sentiment tab and its background monitor -------------------------------
    def surge_monitor(self) -> SurgeMonitor:
        """The negative-sentiment surge rule over this store (settings.console: webhook, thresholds)."""
        from assistant.engine.alerts import SurgeMonitor

        return SurgeMonitor(self.store, self.settings.console)

    def alerts(self, site_id: str | None = None, limit: int = 50) -> list[Alert]:
        """The surge alerts raised so far, newest first (of one site, or of all)."""
        from assistant.engine.alerts import list_alerts

        return list_alerts(self.store, site_id=site_id, limit=limit)

    def instrument_search(self, wrap: Callable[[Any], T]) -> T:
        """Evaluation hook: customer turns search `wrap(retriever)` from now on; returns it (`assistant eval
        answers` records each turn's ranked hits this way). `knowledge` keeps the plain retriever."""
        wrapped = wrap(self.retriever)
        self.retriever = wrapped
        return wrapped

    def lead_with_intent_page(self, cls: Classification, hits: list[Any], namespace: str = "default",
                              site: SiteProfile | None = None) -> list[Any]:
        """`hits` with the confident intent's own page first when retrieval ranked it in a near-tie below the top
        (the intent and its threshold are the site's: the default site's when none is given)."""
        site = site or self.profiles.get(DEFAULT_SITE)
        if not hits or not site.policy.intent_can_break_ties(cls):
            return hits
        # where the intent's own training messages land (IntentPages: searched once per index version)
        shares = self.intent_pages.shares(cls.intent, site.intent_examples(cls.intent), namespace)
        page = site.policy.intent_page(shares, [(h.doc_id, h.score) for h in hits])
        if page is None:
            return hits
        return [h for h in hits if h.doc_id == page] + [h for h in hits if h.doc_id != page]

    # -- sites: what each says to its customers, and deleting one ------------------------------------
    def handoff_message(self, site_id: str = DEFAULT_SITE) -> str:
        """What the site's customer is told when a person is asked for (the site's own, else its default)."""
        return self.profiles.get(site_id).policy.config.handoff_message

    def handoff_notice(self, site_id: str = DEFAULT_SITE) -> HandoffNotice:
        """What the site's customer is told when a person is asked for now: the handoff message while the site is
        open, else when a person answers next (its opening hours), with an invitation to leave an e-mail address."""
        return self.profiles.get(site_id).handoff_notice()

    def leave_contact(self, conversation_id: str, site_id: str, email: str) -> str:
        """Store the e-mail address the customer left for a person to write back; returns it as stored.
        contacts.InvalidContact (not an address), ConversationNotFound (not the site's): nothing stored."""
        from assistant.engine import contacts

        return contacts.leave(self.store, conversation_id, site_id, email).email

    def contact_of(self, conversation_id: str) -> str | None:
        """The e-mail address left in the conversation (what agents see), if any."""
        from assistant.engine import contacts

        return contacts.email_of(self.store, conversation_id)

    def delete_site(self, site_id: str, *, force: bool = False) -> Any:
        """Delete the site with its conversations, keys and namespace documents (site_deletion.py: SiteBusy for
        the default site, or while it has open handoffs unless `force`)."""
        return self.sites.delete(site_id, force=force, knowledge=self.knowledge)

    def notify_handoff(self, reply: Reply, turns: list[TranscriptTurn]) -> None:
        """Tell every on_handoff callback (the webhook among them) that `reply` handed the conversation off;
        `turns` is the conversation so far (conversations.transcript makes it from stored messages)."""
        for callback in self.on_handoff:
            try:
                callback(reply, turns)
            except Exception:  # noqa: BLE001 - a broken webhook must not break the chat
                log.exception("handoff callback failed")
        if reply.handoff is not None:  # the site's signed webhook (the default site: the global URL too)
            self.handoffs.notify_handoff(reply.conversation_id, _handoff_data(reply, turns))

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

        site = await asyncio.to_thread(self.profiles.get, site_id)  # its intents, templates, voice (site_profile.py)
        cls = await asyncio.to_thread(site.classify, text)
        t_cls = time.perf_counter()
        yield ClassificationEvent(conversation_id=conv_id, classification=cls)
        reply = Reply(conversation_id=conv_id, message_id=message_id, answer="", intent=cls.intent,
                      confidence=cls.confidence, intents=cls.intents, sentiment=cls.sentiment,
                      model=self.backend.model_id)
        timings = Timings(understanding_ms=(t_cls - t0) * 1000)
        turn = CustomerTurn(self, site, text, cls, history, reply, timings, t0, namespace or site_id,
                            paused=status == "handoff", sampling=sampling, adapter=adapter)
        async for event in turn.run():
            yield event

        timings.total_ms = (time.perf_counter() - t0) * 1000
        reply.timings = timings
        stored_id, _ = await asyncio.to_thread(self._persist, conv_id, conversation_id is None, site_id, text, cls,
                                               reply)
        reply.message_id = stored_id
        if reply.handoff is not None:
            # off the event loop: the site's webhook is looked up and its delivery recorded in the store
            await asyncio.to_thread(self._notify_handoff, reply, history, text)
        yield DoneEvent(reply=reply)

    # -- internals ---------------------------------------------------------------------------
    @property
    def answer_mode(self) -> str:
        """checked, extractive or unchecked: engine.answers with auto resolved for the model being served."""
        from assistant.engine.models import DEFAULT_CHAT_NAME

        mode = self.settings.engine.answers
        if mode == "auto":  # the embedded 135M model's drafts passed the check 3 times in 46 (docs/benchmarks.md)
            return "extractive" if self.backend.model_id == DEFAULT_CHAT_NAME else "checked"
        return mode

    def default_sampling(self) -> SamplingParams:
        """The operator's sampling settings (engine.*): what a request that names none generates with."""
        e = self.settings.engine
        return SamplingParams(temperature=e.temperature, top_p=e.top_p, max_tokens=e.max_new_tokens,
                              repetition_penalty=REPETITION_PENALTY, no_repeat_ngram_size=NO_REPEAT_NGRAM)

    def _persist(self, conv_id: str, is_new: bool, site_id: str, text: str, cls: Classification,
                 reply: Reply) -> tuple[str, str]:
        from assistant.engine.privacy import redact

        user = {
            "content": redact(text, self.settings.security), "intent": cls.intent, "confidence": cls.confidence, "out_of_scope": cls.out_of_scope,
            "sentiment": cls.sentiment.label, "sentiment_score": cls.sentiment.score,
            "language": cls.language,
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
        turns = transcript(history)
        turns.append(TranscriptTurn(role="user", content=text, intent=reply.intent,
                                    sentiment=reply.sentiment.label if reply.sentiment else None))
        self.notify_handoff(reply, turns)


def _handoff_data(reply: Reply, turns: list[TranscriptTurn]) -> dict[str, Any]:
    """What a handoff webhook says: why, a summary for the agent, the customer's intent and sentiment."""
    from assistant.engine.understanding.handoff import summarize

    assert reply.handoff is not None
    return {"reason": reply.handoff.reason, "detail": reply.handoff.detail,
            "summary": summarize(turns, reply.handoff.reason), "intent": reply.intent,
            "sentiment": reply.sentiment.label if reply.sentiment else None}


def _webhook(settings: Settings) -> Any:
    """An extra on_handoff callback that POSTs the handoff summary, unsigned and not recorded, to the global
    handoff_webhook_url for every site (Assistant.webhooks does the signed, recorded per-site delivery)."""
    import threading

    from assistant.engine.understanding.handoff import post_handoff

    cfg = settings.understanding

    def notify(reply: Reply, turns: list[TranscriptTurn]) -> None:
        payload = {"event": "handoff", "conversation_id": reply.conversation_id, **_handoff_data(reply, turns)}
        threading.Thread(target=post_handoff, args=(cfg.handoff_webhook_url, payload, cfg.handoff_webhook_timeout_s),
                         daemon=True).start()

    return notify


__all__ = ["Assistant", "BackendError", "ConversationNotFound", "Handoff", "InvalidMessage"]
