"""Seeded conversations with chosen timestamps for the console's analytics, alert, review and browser tests.

`Turn` describes one customer message and its reply; `seed_conversation` writes them through the
real SQLAlchemy models (the facade always stamps "now", these tests need the past). `seed_demo`
writes the fixed data set whose numbers the browser test expects (see DEMO_* below).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from assistant.engine.store import Conversation, Message, Store, new_id

SCORES = {"negative": -0.8, "neutral": 0.0, "positive": 0.7}


@dataclass
class Turn:
    text: str
    sentiment: str = "neutral"
    intent: str | None = "track_order"
    confidence: float = 0.9
    answer: str = "Here is what I found [1]."
    route: str = "generate"
    abstained: bool = False
    handoff_reason: str | None = None
    total_ms: float = 200.0
    minutes: float = 0.0  # offset from the conversation start
    score: float | None = None


def seed_conversation(store: Store, start: datetime, turns: list[Turn], *, site_id: str = "default",
                      conversation_id: str | None = None) -> tuple[str, list[str], list[str]]:
    """Write one conversation; returns (conversation id, customer message ids, assistant message ids)."""
    conv_id = conversation_id or new_id()
    users, bots = [], []
    handoff = next((t for t in turns if t.handoff_reason), None)
    with store.session() as s:
        conv = Conversation(id=conv_id, site_id=site_id, created_at=start,
                            updated_at=start + timedelta(minutes=turns[-1].minutes),
                            status="handoff" if handoff else "active",
                            handoff_reason=handoff.handoff_reason if handoff else None,
                            handoff_at=start + timedelta(minutes=handoff.minutes) if handoff else None)
        s.add(conv)
        for i, t in enumerate(turns):
            at = start + timedelta(minutes=t.minutes)
            uid, bid = new_id(), new_id()
            s.add(Message(id=uid, conversation_id=conv_id, seq=2 * i + 1, role="user", content=t.text, created_at=at,
                          intent=t.intent, confidence=t.confidence, out_of_scope=t.intent is None,
                          sentiment=t.sentiment, sentiment_score=SCORES[t.sentiment] if t.score is None else t.score))
            s.add(Message(id=bid, conversation_id=conv_id, seq=2 * i + 2, role="assistant", content=t.answer,
                          created_at=at, intent=t.intent, confidence=t.confidence, route=t.route,
                          abstained=t.abstained, handoff_reason=t.handoff_reason, sources=[],
                          timings={"total_ms": t.total_ms}, model="fake"))
            users.append(uid)
            bots.append(bid)
    return conv_id, users, bots


# The browser test's data set: 6 conversations on one site within the last hours.
#   resolved automatically: c1 (positive end), c2, c5 (neutral) -> 3/6 = 50%
#   handed off: c3 -> 1/6 = 16.7%; ending negative: c3, c4, c6; most negative now: c4 (-0.95), c3, c6
#   abstained replies: 1 of 10 (10%); customer messages: 10, of which 4 negative (40%)
DEMO_CONVERSATIONS = 6
DEMO_RESOLUTION = "50.0%"
DEMO_HANDOFF = "16.7%"
DEMO_ABSTENTION = "10.0%"
DEMO_NEGATIVE_TEXT = "This is the worst service, my parcel is lost again"
DEMO_UNANSWERED_TEXT = "can I pay in bitcoin"
DEMO_OOS_TEXTS = [
    "can you wrap it as a gift",
    "do you offer gift wrapping",
    "please gift wrap my order",
    "add gift wrap to my parcel",
    "is gift wrapping available",
]


def seed_demo(store: Store, now: datetime) -> dict[str, str]:
    """Write the browser-test data set; returns a few ids the test uses."""
    base = now - timedelta(hours=3)
    c1, _, b1 = seed_conversation(store, base, [
        Turn("where is my order NW-48213", "neutral", "track_order", 0.93, "Your order is on its way [1].",
             total_ms=120),
        Turn("great, thanks a lot!", "positive", "thanks_goodbye", 0.88, "You're welcome!", "template", minutes=2,
             total_ms=40),
    ])
    seed_conversation(store, base + timedelta(minutes=20), [
        Turn("how long do refunds take", "neutral", "refund_status", 0.81, "Refunds take 5-7 days [1].",
             total_ms=300),
    ])
    c3, _, _ = seed_conversation(store, base + timedelta(minutes=40), [
        Turn("my jacket arrived torn", "negative", "damaged_item", 0.72, "I'm sorry to hear that [1].",
             total_ms=250),
        Turn("I want a real person now", "negative", "human_agent", 0.95, "Passing you to a colleague.",
             "handoff", handoff_reason="customer_request", minutes=3, total_ms=60),
    ])
    c4, _, _ = seed_conversation(store, base + timedelta(minutes=70), [
        Turn(DEMO_NEGATIVE_TEXT, "negative", "missing_package", 0.66, "Let me check that for you [1].",
             total_ms=400, score=-0.95),
    ])
    seed_conversation(store, base + timedelta(minutes=90), [
        Turn(DEMO_UNANSWERED_TEXT, "neutral", None, 0.21, "I'm sorry, I couldn't find a reliable answer.",
             "abstain", abstained=True, total_ms=90),
        Turn("ok, how do I return my boots then", "neutral", "return_item", 0.9, "You can return them [1].",
             minutes=1, total_ms=350),
    ])
    seed_conversation(store, base + timedelta(minutes=110), [
        Turn("do you price match", "neutral", "price_match", 0.42, "We match prices of [1].", total_ms=500),
        Turn("that is a useless answer", "negative", "price_match", 0.35, "Sorry about that [1].", minutes=2,
             total_ms=210),
    ])
    return {"resolved": c1, "handoff": c3, "negative": c4, "reply_to_correct": b1[0]}
