"""The conversation store, the same SQLAlchemy code on SQLite and on a real PostgreSQL: turns, history,
status, erasure, listing, JSON columns, and concurrent appends to one conversation that lose nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.engine.store import ConversationNotFound, Message, Store
from tests.deploy.databases import DATABASES, database_url


@pytest.fixture(params=DATABASES)
def store(request: pytest.FixtureRequest, tmp_path: Path):
    with database_url(request.param, tmp_path) as url:
        s = Store(url)
        yield s
        s.close()


def turn(text: str, answer: str, **extra: object) -> tuple[dict, dict]:
    user = {"content": text, "intent": "refund_status", "confidence": 0.7, "sentiment": "neutral"}
    bot = {"content": answer, "route": "generate", "sources": [{"doc_id": "refunds", "score": 0.9}],
           "timings": {"total_ms": 12.5, "ttft_ms": None}, **extra}
    return user, bot


def test_turns_history_and_json_columns_round_trip(store: Store) -> None:
    conv_id, first = store.add_turn(None, "acme", *turn("Where is my refund?", "Within 5 days [1]."))
    _, second = store.add_turn(conv_id, "acme", *turn("And to a gift card?", "Same [1].", abstained=False))
    conv = store.get_conversation(conv_id, "acme")
    assert [(m.seq, m.role) for m in conv.messages] == [(1, "user"), (2, "assistant"), (3, "user"), (4, "assistant")]
    assert [m.id for m in conv.messages if m.role == "assistant"] == [first, second]
    assert conv.messages[1].sources == [{"doc_id": "refunds", "score": 0.9}]
    assert conv.messages[1].timings == {"total_ms": 12.5, "ttft_ms": None}
    assert [m.content for m in store.history(conv_id, limit=2)] == ["And to a gift card?", "Same [1]."]
    assert conv.updated_at >= conv.created_at
    with pytest.raises(ConversationNotFound):
        store.get_conversation(conv_id, "another-site")


def test_status_listing_and_erasure(store: Store) -> None:
    a, _ = store.add_turn(None, "acme", *turn("hello", "hi"))
    b, _ = store.add_turn(None, "acme", *turn("I want a person", "Connecting you."), handoff_reason="customer_request")
    c, _ = store.add_turn(None, "other", *turn("hello", "hi"))
    assert store.get_conversation(b).status == "handoff" and store.get_conversation(b).handoff_at is not None
    assert [x.id for x in store.list_conversations(site_id="acme")] == [b, a]  # newest first
    assert [x.id for x in store.list_conversations(site_id="acme", status="handoff")] == [b]
    store.set_status(b, "active")
    assert store.list_conversations(status="handoff") == []
    store.delete_conversation(a, "acme")
    assert not store.exists(a) and store.exists(c)
    with store.session() as s:  # erasure takes the messages with it
        assert s.query(Message).filter(Message.conversation_id == a).count() == 0
    with pytest.raises(ConversationNotFound):
        store.delete_conversation(c, "acme")


def test_concurrent_appends_to_one_conversation_lose_no_turn(store: Store) -> None:
    conv_id, _ = store.add_turn(None, "acme", *turn("start", "ok"))
    texts = [f"question {i}" for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda t: store.add_turn(conv_id, "acme", *turn(t, f"answer to {t}")), texts))
    messages = store.get_conversation(conv_id).messages
    assert [m.seq for m in messages] == list(range(1, 2 * (len(texts) + 1) + 1))  # contiguous, no duplicates
    pairs = list(zip(messages[0::2], messages[1::2], strict=True))
    assert all(u.role == "user" and b.role == "assistant" and b.content == f"answer to {u.content}"
               for u, b in pairs[1:])  # each answer right after its own question
    assert sorted(u.content for u, _ in pairs[1:]) == sorted(texts)
