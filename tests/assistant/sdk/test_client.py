"""The sync SDK client against a real HTTP server: chat, typed stream events, conversations, feedback,
handoff, errors mapped to exceptions, and isolation between sites."""

from __future__ import annotations

import pytest

from assistant.sdk import AuthenticationError, Client, InvalidRequest, NotFound, RateLimited, RetryPolicy
from assistant.sdk.types import ClassificationEvent, DoneEvent, Reply, SourcesEvent, TokenEvent


def test_chat_and_stream_with_typed_results(live) -> None:
    with Client(live.base, live.keys["acme"]) as client:
        assert client.health().ready
        reply = client.chat("How long do refunds take?")
        assert isinstance(reply, Reply) and "5 business days" in reply.answer
        assert reply.sources[0].url == "https://help.example.com/refunds"
        events = list(client.stream("And for exchanges?", conversation_id=reply.conversation_id))
        assert isinstance(events[0], ClassificationEvent) and isinstance(events[1], SourcesEvent)
        assert isinstance(events[-1], DoneEvent)
        tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
        assert tokens.strip() == events[-1].reply.answer
        conv = client.get_conversation(reply.conversation_id)
        assert [m.role for m in conv.messages] == ["user", "assistant"] * 2 and conv.site_id == "acme"


def test_conversations_feedback_handoff_and_erase(live) -> None:
    with Client(live.base, live.keys["acme"]) as client:
        ids = [client.chat("How long do refunds take?").conversation_id for _ in range(3)]
        page = client.list_conversations(limit=2)
        assert page.total == 3 and len(page.items) == 2 and page.next_offset == 2
        assert len(client.list_conversations(offset=page.next_offset).items) == 1
        reply = client.chat("Refunds?", conversation_id=ids[0])
        fb = client.feedback(ids[0], reply.message_id, "down", "Refunds take 5 business days.")
        assert fb.rating == "down" and fb.correction == "Refunds take 5 business days."
        handed = client.request_handoff(ids[1], "A person please")
        assert handed.status == "handoff"
        assert client.list_conversations(status="handoff").items[0].id == ids[1]
        assert client.acknowledge_handoff(ids[1], "sam").acknowledged_at is not None
        sent = client.agent_reply(ids[1], "Hi, Sam here.", "Sam")
        assert (sent.role, sent.author, sent.content) == ("agent", "Sam", "Hi, Sam here.")
        new = client.new_messages(ids[1], after=sent.seq - 1)
        assert new.status == "handoff" and [m.id for m in new.messages] == [sent.id] and new.last_seq == sent.seq
        assert client.hand_back(ids[1]).status == "active"
        client.delete_conversation(ids[2])
        with pytest.raises(NotFound) as err:
            client.get_conversation(ids[2])
        assert err.value.code == "conversation_not_found"


def test_errors_are_typed_and_sites_are_isolated(live) -> None:
    acme = Client(live.base, live.keys["acme"])
    other = Client(live.base, live.keys["other"])
    cid = acme.chat("How long do refunds take?").conversation_id
    with pytest.raises(NotFound):
        other.get_conversation(cid)
    with pytest.raises(NotFound):
        other.chat("hi", conversation_id=cid)
    assert other.list_conversations().total == 0
    with pytest.raises(AuthenticationError) as err:
        Client(live.base, "sk_wrong").chat("hi")
    assert err.value.status == 401
    with pytest.raises(AuthenticationError):
        Client(live.base).chat("hi")  # this server requires keys
    with pytest.raises(InvalidRequest) as err:
        acme.chat("")
    assert err.value.code == "invalid_message"
    with pytest.raises(InvalidRequest):
        acme.chat("x", temperature=9)
    acme.close()
    other.close()


@pytest.mark.parametrize("live", [{"KEY_RATE": "2/minute"}], indirect=True)
def test_rate_limit_surfaces_retry_after_when_retries_are_off(live) -> None:
    with Client(live.base, live.keys["acme"], retry=RetryPolicy(max_retries=0)) as client:
        client.chat("one")
        client.chat("two")
        with pytest.raises(RateLimited) as err:
            client.chat("three")
        assert err.value.retry_after is not None and 1 <= err.value.retry_after <= 60
        with pytest.raises(RateLimited):
            list(client.stream("four"))


def test_agent_queue_through_the_sdk(live) -> None:
    acme, other = Client(live.base, live.keys["acme"]), Client(live.base, live.keys["other"])
    cid = acme.request_handoff(message="I want a person").conversation_id
    waiting = acme.queue()
    assert [i.conversation_id for i in waiting.items] == [cid] and waiting.items[0].state == "waiting"
    assert acme.claim(cid, "maria").agent == "maria"
    with pytest.raises(InvalidRequest) as err:
        acme.claim(cid, "sam")
    assert err.value.code == "already_claimed"
    assert [i.conversation_id for i in acme.queue("mine", agent="maria").items] == [cid]
    assert acme.add_note(cid, "maria", "call back tomorrow").text == "call back tomorrow"
    assert [n.author for n in acme.notes(cid)] == ["maria"]
    with pytest.raises(NotFound):
        other.claim(cid, "eve")  # another site's conversation
    with pytest.raises(NotFound):
        other.notes(cid)
    assert other.queue().items == []
    closed = acme.close_handoff(cid, "maria")
    assert (closed.state, closed.outcome) == ("closed", "close")
    cid2 = acme.request_handoff(message="a person again").conversation_id
    assert acme.hand_back(cid2, agent="sam").status == "active"
    assert [i.outcome for i in acme.queue("closed").items] == ["hand_back", "close"]
    assert acme.webhook_deliveries() == []  # no webhook set for this site
