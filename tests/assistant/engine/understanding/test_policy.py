"""Answer policy routes: handoff (explicit request, negative streak, repeated abstention), template, generate, abstain."""

from __future__ import annotations

import pytest

from assistant.engine.events import Classification, Sentiment
from assistant.engine.understanding import policy as policy_module
from assistant.engine.understanding.config import UnderstandingConfig
from assistant.engine.understanding.policy import (
    AnswerPolicy,
    ConversationState,
    Decision,
    is_explicit_human_request,
)
from assistant.engine.understanding.templates import TemplateBook

BOOK = """\
slots: {company: Acme}
intents:
  track_order:
    threshold: 0.8
    templates:
      - id: track.with_id
        requires: [order_id]
        text: "Order {order_id} is on its way with {company}."
        sources: [order-tracking]
"""


def classification(intent: str | None = "track_order", confidence: float = 0.95, mood: str = "neutral",
                   out_of_scope: bool = False) -> Classification:
    score = {"negative": -0.7, "neutral": 0.0, "positive": 0.6}[mood]
    return Classification(intent=intent, confidence=confidence, out_of_scope=out_of_scope,
                          sentiment=Sentiment(label=mood, score=score))


@pytest.fixture
def policy(tmp_path) -> AnswerPolicy:
    path = tmp_path / "t.yaml"
    path.write_text(BOOK)
    config = UnderstandingConfig(min_retrieval_score=0.4)  # handoff after 2 upset messages or 2 abstentions
    return AnswerPolicy(config, TemplateBook.load(path))


def test_template_when_confident_and_slots_found(policy):
    decision = policy.before_retrieval("where is NW-12345", classification(), ConversationState())
    assert decision.route == "template"
    assert decision.template_id == "track.with_id"
    assert decision.text == "Order #NW-12345 is on its way with Acme."
    assert decision.sources == ("order-tracking",)


def test_only_a_template_with_sources_asks_retrieval_to_corroborate(policy, tmp_path, monkeypatch):
    decision = policy.before_retrieval("where is NW-12345", classification(), ConversationState())
    assert policy.needs_corroboration(decision)
    assert policy.corroborated(decision, ["faq", "order-tracking"])
    assert not policy.corroborated(decision, ["faq", "returns"])
    assert not policy.corroborated(decision, [])  # a knowledge base without the page: another site's facts
    assert not policy.needs_corroboration(None)
    assert not policy.needs_corroboration(Decision(route="template", text="Hi!", template_id="greeting.default"))
    monkeypatch.setattr(policy_module, "CORROBORATE_TEMPLATES", False)
    assert not policy.needs_corroboration(decision)


def test_no_template_under_threshold_missing_slot_or_out_of_scope(policy):
    state = ConversationState()
    assert policy.before_retrieval("where is NW-12345", classification(confidence=0.79), state) is None
    assert policy.before_retrieval("where is my parcel", classification(), state) is None
    assert policy.before_retrieval("NW-12345 weather?", classification(None, 0.9, out_of_scope=True), state) is None


@pytest.mark.parametrize("text", [
    "Can I speak to a human please?", "let me talk to a real person", "transfer me to an agent",
    "I want a human", "connect me with customer service representative",
    "My jacket zip broke after two weeks, I want a person", "I'd like someone to call me back",
    "I need a person to help me with this",
])
def test_handoff_on_explicit_request_phrases(policy, text):
    decision = policy.before_retrieval(text, classification("greeting", 0.4), ConversationState())
    assert decision.route == "handoff"
    assert decision.handoff.reason == "customer_request"
    assert decision.text == policy.config.handoff_message


def test_handoff_on_human_agent_intent(policy):
    decision = policy.before_retrieval("get me someone", classification("human_agent", 0.9), ConversationState())
    assert decision.handoff.reason == "customer_request"
    # a weak human_agent guess alone does not hand off
    assert policy.before_retrieval("hm", classification("human_agent", 0.3), ConversationState()) is None


def test_phrases_that_are_not_requests():
    assert not is_explicit_human_request("the agent who delivered my parcel was rude? no, it was fine")
    assert not is_explicit_human_request("how do I track my order?")
    assert not is_explicit_human_request("I need a person to sign for the parcel")
    assert not is_explicit_human_request("I need someone to look at my car")
    assert not is_explicit_human_request("My phone is lost, I don't want someone to use my account")


def test_handoff_on_negative_streak_including_this_message(policy):
    angry = classification(mood="negative")
    first = policy.before_retrieval("this is awful", angry, ConversationState(sentiments=["neutral"]))
    assert first is None or first.route != "handoff"
    second = policy.before_retrieval("still awful", angry, ConversationState(sentiments=["neutral", "negative"]))
    assert second.route == "handoff"
    assert second.handoff.reason == "negative_sentiment"
    # a positive message in between resets the streak
    reset = policy.before_retrieval("awful", angry, ConversationState(sentiments=["negative", "positive"]))
    assert reset is None or reset.route != "handoff"


def test_generate_above_and_abstain_below_threshold(policy):
    assert policy.after_retrieval([0.2, 0.55], ConversationState()).route == "generate"
    decision = policy.after_retrieval([0.39, 0.1], ConversationState())
    assert decision.route == "abstain"
    assert decision.text == policy.config.abstain_message
    assert policy.after_retrieval([], ConversationState()).route == "abstain"


def test_a_confident_intent_breaks_a_near_tie_for_its_own_page(policy, monkeypatch):
    shares = {"missing-package": 0.7, "order-tracking": 0.2}
    tie = [("order-tracking", 0.25), ("missing-package", 0.24), ("returns", 0.1)]
    assert policy.intent_page(shares, tie) == "missing-package"
    assert policy.intent_page(shares, [("order-tracking", 0.25), ("missing-package", 0.19)]) is None  # < 0.8 x
    assert policy.intent_page(shares, [("order-tracking", 0.25), ("returns", 0.24)]) is None  # not retrieved
    assert policy.intent_page(shares, [("missing-package", 0.3), ("order-tracking", 0.2)]) is None  # already first
    assert policy.intent_page({"missing-package": 0.4, "order-tracking": 0.35}, tie) is None  # no page of its own
    assert policy.intent_page({}, tie) is None and policy.intent_page(shares, []) is None
    assert policy.intent_can_break_ties(classification(confidence=0.85))
    assert not policy.intent_can_break_ties(classification(confidence=0.79))  # under track_order's 0.8
    assert not policy.intent_can_break_ties(classification(intent=None))
    assert not policy.intent_can_break_ties(classification(out_of_scope=True))
    monkeypatch.setattr(policy_module, "INTENT_BREAKS_TIES", False)
    assert not policy.intent_can_break_ties(classification(confidence=0.85))


def test_handoff_on_repeated_abstention(policy):
    decision = policy.after_retrieval([0.1], ConversationState(abstentions=[False, True]))
    assert decision.route == "handoff"
    assert decision.handoff.reason == "repeated_abstention"
    assert policy.after_retrieval([0.1], ConversationState(abstentions=[True, False])).route == "abstain"


def test_paused_after_handoff(policy):
    decision = policy.before_retrieval("hello?", classification(), ConversationState(handed_off=True))
    assert decision.route == "paused"
