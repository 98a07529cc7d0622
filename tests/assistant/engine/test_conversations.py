"""The facade's one door to stored data: Assistant.conversations, .sites, the alerts, the search hook and the
shared exceptions (fake backend, fake retrieval and intent, a real SQLite store)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.engine import errors
from assistant.engine.alerts import SurgeMonitor
from assistant.engine.backends.fake import FakeBackend
from assistant.engine.conversations import ConversationPage, HandoffState, TranscriptTurn
from assistant.engine.errors import ConversationNotFound, MessageNotFound, ReviewError, SiteNotFound
from assistant.engine.events import Reply
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from tests.support import FakeClassifier, FakeHit, FakeRetriever

HITS = [FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.9)]


@pytest.fixture
def bot(tmp_path: Path) -> Assistant:
    settings = Settings(data_dir=tmp_path)
    assistant = Assistant(settings, backend=FakeBackend(settings), retriever=FakeRetriever(list(HITS)),
                          understanding=FakeClassifier(), policy=AnswerPolicy(settings.understanding,
                                                                              TemplateBook.empty()),
                          store=Store(settings.resolved_database_url))
    yield assistant
    assistant.store.close()


def turn(bot: Assistant, text: str = "How long does a refund take?", conversation_id: str | None = None,
         site_id: str = "default") -> Reply:
    return asyncio.run(bot.chat(text, conversation_id, site_id=site_id))


def test_get_exists_and_access_are_per_site_and_per_widget_session(bot: Assistant) -> None:
    conversations = bot.conversations
    cid = turn(bot, site_id="acme").conversation_id
    conv = conversations.get(cid, "acme")
    assert [m.role for m in conv.messages] == ["user", "assistant"] and conv.site_id == "acme"
    assert conversations.exists(cid) and conversations.exists(cid, "acme") and not conversations.exists(cid, "other")
    with pytest.raises(ConversationNotFound):
        conversations.get(cid, "other")
    conversations.check_access(cid, "acme")  # a secret key of the site: no session to match
    with pytest.raises(ConversationNotFound):
        conversations.check_access(cid, "other")
    with pytest.raises(ConversationNotFound):  # a widget session that did not start it
        conversations.check_access(cid, "acme", "ws_someone")
    conversations.link_session(cid, "acme", "ws_owner")
    conversations.check_access(cid, "acme", "ws_owner")
    with pytest.raises(ConversationNotFound):
        conversations.check_access(cid, "acme", "ws_someone")


def test_page_filters_counts_and_orders_newest_first(bot: Assistant) -> None:
    ids = [turn(bot, site_id="acme").conversation_id for _ in range(3)]
    turn(bot, site_id="other")
    page = bot.conversations.page("acme", limit=2)
    assert isinstance(page, ConversationPage) and page.total == 3
    assert [c.id for c in page.items] == [ids[2], ids[1]]
    assert [c.id for c in bot.conversations.page("acme", limit=2, offset=2).items] == [ids[0]]
    assert bot.conversations.page("acme", status="handoff").total == 0
    future = datetime.now(UTC) + timedelta(hours=1)
    assert bot.conversations.page("acme", since=future).total == 0
    assert bot.conversations.page("acme", until=future).total == 3
    assert bot.conversations.site_ids() == {"acme", "other"}
    frame = bot.conversations.frame(site_id="acme")
    assert len(frame) == 6 and set(frame["site_id"]) == {"acme"}


def test_delete_erases_the_conversation_only_for_its_site(bot: Assistant) -> None:
    cid = turn(bot, site_id="acme").conversation_id
    with pytest.raises(ConversationNotFound):
        bot.conversations.delete(cid, "other")
    bot.conversations.delete(cid, "acme")
    assert not bot.conversations.exists(cid)
    with pytest.raises(ConversationNotFound):
        bot.conversations.delete(cid, "acme")


def test_request_person_then_acknowledge_then_hand_back(bot: Assistant) -> None:
    conversations = bot.conversations
    cid, message_id = conversations.request_person(None, "acme", "Mail me at jo@example.com", "A person will reply.")
    conv = conversations.get(cid, "acme")
    assert conv.status == "handoff" and conv.handoff_reason == "customer_request"
    assert [m.content for m in conv.messages] == ["Mail me at [EMAIL]", "A person will reply."]
    assert conv.messages[-1].id == message_id and conv.messages[-1].route == "handoff"
    # what handoff callbacks (the webhook) get: the stored messages as TranscriptTurns
    assert conversations.transcript(cid, "acme") == [
        {"role": "user", "content": "Mail me at [EMAIL]", "intent": None, "sentiment": None},
        {"role": "assistant", "content": "A person will reply.", "intent": None, "sentiment": None},
    ]
    with pytest.raises(ConversationNotFound):
        conversations.transcript(cid, "other")
    state = conversations.handoff(cid, "acme")
    assert state == HandoffState(cid, "handoff", "customer_request", None)
    conversations.acknowledge_handoff(cid, "sam")
    assert conversations.handoff(cid).acknowledged_at is not None
    conversations.hand_back(cid)
    assert conversations.handoff(cid) == HandoffState(cid, "active", None, None)
    # the assistant answers again, in the same conversation
    assert turn(bot, conversation_id=cid, site_id="acme").route != "paused"


def test_reviews_of_replies_feed_suggestions_and_exports(bot: Assistant, tmp_path: Path) -> None:
    reply = turn(bot)
    conversations = bot.conversations
    saved = conversations.record_feedback(reply.conversation_id, reply.message_id, "down", "Within 5 days.")
    assert saved.rating == "down" and saved.correction == "Within 5 days."
    assert set(conversations.feedback(reply.conversation_id)) == {reply.message_id}
    assert [s.text for s in conversations.template_suggestions()] == ["Within 5 days."]
    assert conversations.export_reviewed(tmp_path / "reviewed.jsonl") == 1
    assert conversations.write_suggestions(tmp_path / "suggestions.yaml") == 1
    with pytest.raises(MessageNotFound):
        conversations.record_feedback(reply.conversation_id, "nope", "up", None)
    with pytest.raises(ReviewError):
        conversations.record_feedback(reply.conversation_id, reply.message_id, None, None)


def test_operators_assign_intents_to_customer_messages(bot: Assistant, tmp_path: Path) -> None:
    reply = turn(bot, "Where is my parcel?")
    question = bot.conversations.get(reply.conversation_id).messages[0]
    assert bot.conversations.assigned_message_ids() == set()
    bot.conversations.assign_intent(question.id, "parcel_status", tmp_path / "operator_intents.csv")
    assert bot.conversations.assigned_message_ids() == {question.id}
    assert "Where is my parcel?" in (tmp_path / "operator_intents.csv").read_text()


def test_sites_keys_and_quota_count_through_the_facade(bot: Assistant) -> None:
    sites = bot.sites
    assert sites.ensure_default().id == "default"
    site = sites.create("acme", "Acme", origins=["https://help.acme.com"])
    assert sites.get("acme").name == "Acme" and sites.by_public_key(site.public_key).id == "acme"
    assert {s.id for s in sites.all_sites()} == {"default", "acme"}
    assert sites.all_origins() == {"https://help.acme.com"}
    key, plaintext = sites.issue_key("acme", "backend")
    assert sites.verify_key(plaintext)[0].id == "acme" and [k.id for k in sites.list_keys("acme")] == [key.id]
    sites.revoke_key(key.id, "acme")
    assert sites.verify_key(plaintext) is None
    assert sites.update("acme", daily_quota=5).daily_quota == 5
    turn(bot, site_id="acme")
    assert sites.messages_today("acme") == 1
    with pytest.raises(SiteNotFound):
        sites.get("nope")


def test_alerts_search_hook_and_handoff_callbacks(bot: Assistant) -> None:
    assert isinstance(bot.surge_monitor(), SurgeMonitor) and bot.alerts() == []
    assert bot.surge_monitor().check() == []  # no customer messages: no surge

    class Recorder:
        def __init__(self, inner: FakeRetriever) -> None:
            self.inner, self.calls = inner, 0

        def search(self, *args, **kwargs):
            self.calls += 1
            return self.inner.search(*args, **kwargs)

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

    recorder = bot.instrument_search(Recorder)
    turn(bot)
    assert isinstance(recorder, Recorder) and recorder.calls >= 1

    seen = []
    bot.on_handoff.extend([lambda reply, transcript: 1 / 0, lambda reply, transcript: seen.append(transcript)])
    turns = [TranscriptTurn(role="user", content="a person please", intent=None, sentiment="neutral")]
    bot.notify_handoff(Reply(conversation_id="c", message_id="m", answer=""), turns)
    assert seen == [turns]  # a failing callback does not stop the next


def test_shared_exceptions_live_in_one_module() -> None:
    from assistant.engine import backends, reviews, sites, store
    from assistant.engine.facade import InvalidMessage
    from assistant.engine.understanding.dataset import DataError
    from retrieval.errors import RetrievalError

    assert store.ConversationNotFound is errors.ConversationNotFound
    assert backends.QueueFull is errors.QueueFull and issubclass(errors.QueueFull, errors.BackendError)
    assert reviews.ReviewError is errors.ReviewError and reviews.MessageNotFound is errors.MessageNotFound
    assert DataError is errors.DataError and InvalidMessage is errors.InvalidMessage
    assert sites.SiteNotFound is errors.SiteNotFound
    assert errors.RetrievalError is RetrievalError
    assert all(isinstance(getattr(errors, name), type) for name in errors.__all__)
    defined = {c.__module__ for c in vars(errors).values() if isinstance(c, type) and issubclass(c, BaseException)}
    assert defined == {"assistant.engine.errors"}
    # ...and nowhere else: no second class of the same name in the engine, the server, the console or the CLI
    root = Path(__file__).resolve().parents[3]
    names = set(errors.__all__) - {"RetrievalError"}
    elsewhere = [f"{path.relative_to(root)}: {name}" for folder in ("assistant", "ui")
                 for path in (root / folder).rglob("*.py") if path.name != "errors.py" or path.parent.name != "engine"
                 for name in names if f"class {name}(" in path.read_text(encoding="utf-8")]
    assert elsewhere == []
