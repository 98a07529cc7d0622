"""Facade unit tests with the deterministic fake backend and light fakes for retrieval and intent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from assistant.engine.backends import BackendError
from assistant.engine.backends.fake import FakeBackend
from assistant.engine.events import ClassificationEvent, DoneEvent, HandoffEvent, SourcesEvent, TokenEvent
from assistant.engine.facade import Assistant, InvalidMessage
from assistant.engine.settings import Settings
from assistant.engine.smalltalk import SmallTalk
from assistant.engine.store import ConversationNotFound, Store
from assistant.engine.understanding import policy as policy_module
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from tests.support import FakeClassifier, FakeHit, FakeRetriever

HITS = [
    FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days of receiving the return.", 0.9),
    FakeHit("return-policy", "Return policy", "You can return items within 30 days.", 0.6),
]


REFUND_TEMPLATE = """\
intents:
  refund_status:
    threshold: 0.4
    templates:
      - id: refund_status.default
        text: "Refunds reach you within 5 business days."
        sources: [refund-timing]
"""


def make(tmp_path: Path, *, hits=HITS, classifier=None, backend=None, templates: str | None = None,
         **settings_kw) -> Assistant:
    settings = Settings(data_dir=tmp_path, **settings_kw)
    backend = backend or FakeBackend(settings)
    classifier = classifier or FakeClassifier()
    book = TemplateBook.empty()
    if templates is not None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "templates.yaml").write_text(templates)
        book = TemplateBook.load(tmp_path / "templates.yaml")
    return Assistant(settings, backend=backend, retriever=FakeRetriever(list(hits)),
                     understanding=classifier, policy=AnswerPolicy(settings.understanding, book),
                     store=Store(settings.resolved_database_url))


def run(coro):
    return asyncio.run(coro)


async def collect(assistant: Assistant, message: str, conversation_id: str | None = None) -> list:
    return [e async for e in assistant.stream(message, conversation_id)]


def test_grounded_turn_streams_typed_events_in_order(tmp_path: Path) -> None:
    bot = make(tmp_path)
    events = run(collect(bot, "How long does a refund take?"))
    kinds = [type(e) for e in events]
    assert kinds[0] is ClassificationEvent and kinds[1] is SourcesEvent and kinds[-1] is DoneEvent
    assert all(k is TokenEvent for k in kinds[2:-1]) and len(kinds) > 3
    reply = events[-1].reply
    assert reply.answer == "".join(e.text for e in events if isinstance(e, TokenEvent)).strip()
    assert "5 business days" in reply.answer and "[1]" in reply.answer
    assert [s.doc_id for s in reply.sources] == ["refund-timing", "return-policy"]
    assert reply.route == "generate" and not reply.abstained and reply.template_id is None
    assert reply.timings.ttft_ms is not None and reply.timings.total_ms >= reply.timings.ttft_ms
    # the sources reached the model as quoted data next to the question, not in the system rules
    messages = bot.backend.requests[0].messages
    assert messages[0]["role"] == "system" and "[1] Refund timing" not in messages[0]["content"]
    assert "<sources>" in messages[-1]["content"] and "[1] Refund timing" in messages[-1]["content"]
    assert "Question: How long does a refund take?" in messages[-1]["content"]


def test_history_is_persisted_and_sent_back(tmp_path: Path) -> None:
    bot = make(tmp_path)
    bot.backend.enqueue("Refunds are paid within 5 business days [1].", "Refunds are paid within 5 business days [1].")
    first = run(bot.chat("How long does a refund take?"))
    second = run(bot.chat("And for gift cards?", first.conversation_id))
    assert second.conversation_id == first.conversation_id
    messages = bot.backend.requests[1].messages
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Refunds are paid within 5 business days [1]."
    assert messages[1]["content"] == "How long does a refund take?"  # history holds the raw question
    conv = bot.store.get_conversation(first.conversation_id)
    assert [m.role for m in conv.messages] == ["user", "assistant", "user", "assistant"]
    assert conv.messages[1].sources[0]["doc_id"] == "refund-timing"


def test_low_retrieval_scores_abstain_without_generating(tmp_path: Path) -> None:
    bot = make(tmp_path, hits=[FakeHit("x", "X", "unrelated", 0.03)])
    reply = run(bot.chat("What is the airspeed of a swallow?"))
    assert reply.abstained and reply.route == "abstain" and reply.sources == []
    assert bot.backend.requests == []  # nothing generated from nothing


def test_explicit_request_for_a_person_hands_off_and_pauses(tmp_path: Path) -> None:
    bot = make(tmp_path)
    seen = []
    bot.on_handoff.append(lambda reply, transcript: seen.append((reply.handoff.reason, transcript[-1]["content"])))
    events = run(collect(bot, "I want to talk to a real person please"))
    assert any(isinstance(e, HandoffEvent) for e in events)
    reply = events[-1].reply
    assert reply.handoff is not None and reply.handoff.reason == "customer_request" and reply.route == "handoff"
    assert seen == [("customer_request", "I want to talk to a real person please")]
    assert bot.store.get_conversation(reply.conversation_id).status == "handoff"
    later = run(bot.chat("Hello?", reply.conversation_id))
    assert later.route == "paused" and later.answer == "" and bot.backend.requests == []  # silent: a person replies


def test_bad_input_is_rejected_and_nothing_is_stored(tmp_path: Path) -> None:
    bot = make(tmp_path)
    for bad in ("", "   ", "x" * 4001):
        with pytest.raises(InvalidMessage):
            run(bot.chat(bad))
    with pytest.raises(ConversationNotFound):
        run(bot.chat("hello", "no-such-conversation"))
    assert bot.store.list_conversations() == []


def test_cancelled_stream_stores_nothing(tmp_path: Path) -> None:
    bot = make(tmp_path)
    bot.backend.enqueue("one two three four five six")

    async def partial() -> None:
        stream = bot.stream("How long does a refund take?")
        async for event in stream:
            if isinstance(event, TokenEvent):
                break
        await stream.aclose()

    run(partial())
    assert bot.store.list_conversations() == []


def test_a_reply_that_only_echoes_the_prompt_gets_the_cited_top_passage(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.enqueue("<source>\n[1] Refund timing\nRefunds are paid within 5 business days")
    bot = make(tmp_path, backend=backend)
    events = run(collect(bot, "How long does a refund take?"))
    reply = events[-1].reply
    assert reply.answer == "Refunds are paid within 5 business days of receiving the return. [1]"
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == reply.answer
    assert reply.route == "extractive" and [s.doc_id for s in reply.sources][0] == "refund-timing"
    assert "<source" in backend.requests[0].sampling.stop


def test_a_template_corroborated_by_retrieval_answers(tmp_path: Path) -> None:
    bot = make(tmp_path, templates=REFUND_TEMPLATE)  # refund-timing is the top hit
    reply = run(bot.chat("where is my refund"))
    assert (reply.route, reply.template_id) == ("template", "refund_status.default")
    assert [s.doc_id for s in reply.sources] == ["refund-timing"] and bot.backend.requests == []
    assert len(bot.retriever.queries) == 1
    # cited with what the search found: the page's title and passage, not just its id
    assert (reply.sources[0].title, reply.sources[0].score) == ("Refund timing", 0.9)
    assert reply.sources[0].snippet.startswith("Refunds are paid")


def test_a_template_retrieval_disagrees_with_goes_on_to_the_knowledge_base(tmp_path: Path) -> None:
    # the KB holds the template's page, but retrieval ranks other pages for this message: the intent was wrong
    hits = [FakeHit("return-policy", "Return policy", "You can return items within 30 days.", 0.6)]
    bot = make(tmp_path, hits=hits, templates=REFUND_TEMPLATE)
    reply = run(bot.chat("can I trade in my old jacket"))
    assert reply.route == "generate" and reply.template_id is None
    assert [s.doc_id for s in reply.sources] == ["return-policy"] and len(bot.backend.requests) == 1
    # and with weak retrieval evidence the same turn abstains instead of answering with the template
    weak = make(tmp_path / "weak", hits=[FakeHit("return-policy", "Return policy", "...", 0.03)],
                templates=REFUND_TEMPLATE)
    assert run(weak.chat("can I trade in my old jacket")).route == "abstain"


def test_after_a_follow_up_rewrite_a_template_needs_its_page_on_top(tmp_path: Path) -> None:
    # "how long will it take?" after a repair question: the intent reads delivery times, retrieval of the
    # rewritten follow-up leads with the repairs page and has the template's page only second
    hits = [FakeHit("repairs-service", "Repairs service", "A zip repair takes about 10 working days.", 0.7),
            FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.5)]
    bot = make(tmp_path, hits=hits, templates=REFUND_TEMPLATE)
    first = run(bot.chat("How much does it cost to fix a broken zip on my jacket?"))
    follow = run(bot.chat("how long will it take?", first.conversation_id))
    assert bot.retriever.queries[-1][0] != "how long will it take?"  # searched as a follow-up
    assert follow.template_id is None and follow.sources[0].doc_id == "repairs-service"
    # the same template on a question of its own is corroborated by its page anywhere in the top k
    alone = run(make(tmp_path / "alone", hits=hits, templates=REFUND_TEMPLATE).chat("where is my refund"))
    assert alone.template_id == "refund_status.default"


def test_a_thumbs_up_before_anything_was_said_is_greeted_not_thanked(tmp_path: Path) -> None:
    bot = make(tmp_path)
    talk = SmallTalk(bot.settings.company)
    opening = run(bot.chat("👍"))
    assert (opening.route, opening.answer) == ("smalltalk", talk.reply("greeting"))
    answer = run(bot.chat("How long does a refund take?", opening.conversation_id))
    thanks = run(bot.chat("👍", answer.conversation_id))
    assert (thanks.route, thanks.answer) == ("smalltalk", talk.reply("thanks"))


def test_a_template_whose_pages_the_kb_lacks_is_not_sent_unless_the_check_is_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # another site's knowledge base: the template's facts (the sample shop's) are not its own
    hits = [FakeHit("return-policy", "Return policy", "You can return items within 30 days.", 0.6)]
    bot = make(tmp_path, hits=hits, templates=REFUND_TEMPLATE)
    reply = run(bot.chat("where is my refund"))
    assert reply.template_id is None and [s.doc_id for s in reply.sources] == ["return-policy"]
    monkeypatch.setattr(policy_module, "CORROBORATE_TEMPLATES", False)
    off = make(tmp_path / "off", hits=hits, templates=REFUND_TEMPLATE)
    kept = run(off.chat("where is my refund"))
    assert kept.template_id == "refund_status.default" and kept.sources[0].title == "refund-timing"
    assert off.retriever.queries == []  # no retrieval at all: the template reply stays as fast as before


def test_a_rephrased_template_is_sent_only_when_it_keeps_every_fact(tmp_path: Path) -> None:
    book = REFUND_TEMPLATE.replace("Refunds reach you within 5 business days.",
                                   "Refunds reach {company} customers within 5 business days.")
    book = "slots: {company: Northwind}\n" + book
    bot = make(tmp_path, templates=book, understanding={"rephrase_templates": True})
    bot.backend.enqueue("Good news: as a Northwind customer you get your refund within 5 business days.",
                        "Your refund arrives within 3 business days.")
    kept = run(bot.chat("where is my refund"))
    assert kept.template_id == "refund_status.default"
    assert kept.answer == "Good news: as a Northwind customer you get your refund within 5 business days."
    request = bot.backend.requests[0]
    assert "Refunds reach Northwind customers within 5 business days." in request.messages[-1]["content"]
    assert kept.timings.completion_tokens > 0
    refused = run(bot.chat("where is my refund"))  # "3 business days" changes a fact: the template as written
    assert (refused.template_id, refused.answer) == ("refund_status.default",
                                                    "Refunds reach Northwind customers within 5 business days.")
    # off by default: no model call for a template reply
    plain = make(tmp_path / "plain", templates=book)
    assert run(plain.chat("where is my refund")).answer.startswith("Refunds reach Northwind")
    assert plain.backend.requests == []


def test_a_template_is_sent_as_written_when_the_engine_fails(tmp_path: Path) -> None:
    class Down(FakeBackend):
        async def generate(self, request):
            raise BackendError("engine stopped")

    settings = Settings(data_dir=tmp_path)
    bot = make(tmp_path, templates=REFUND_TEMPLATE, backend=Down(settings), understanding={"rephrase_templates": True})
    reply = run(bot.chat("where is my refund"))
    assert (reply.route, reply.answer) == ("template", "Refunds reach you within 5 business days.")


def test_each_customer_message_is_stored_with_its_language(tmp_path: Path) -> None:
    bot = make(tmp_path)
    first = run(bot.chat("Combien de temps prend un remboursement pour ma commande ?"))
    run(bot.chat("How long does a refund take?", first.conversation_id))
    messages = bot.conversations.get(first.conversation_id).messages
    assert [(m.role, m.language) for m in messages] == [
        ("user", "fr"), ("assistant", None), ("user", "en"), ("assistant", None)]
