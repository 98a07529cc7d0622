"""The /ui chat page's handoff path: the assistant's silence is not shown, and agents' replies are (ui/chat.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.assistant.engine.test_facade import make
from ui.chat import agent_replies, build_chat_ui


def test_agent_replies_are_polled_with_their_author_until_handed_back(tmp_path: Path) -> None:
    bot = make(tmp_path)
    reply = asyncio.run(bot.chat("I want to talk to a real person please"))
    cid = reply.conversation_id
    assert asyncio.run(agent_replies(bot, cid, 0)) == ([], 2, True)
    bot.conversations.agent_reply(cid, "default", "Sam", "Hi, Sam here. Let me check your order.")
    quiet = asyncio.run(bot.chat("Thanks!", cid))
    assert quiet.route == "paused" and quiet.answer == ""
    turns, after, handed_off = asyncio.run(agent_replies(bot, cid, 2))
    assert turns == [{"role": "assistant", "content": "**Sam:** Hi, Sam here. Let me check your order."}]
    assert (after, handed_off) == (5, True)  # past the customer's message and the assistant's silence
    assert asyncio.run(agent_replies(bot, cid, after)) == ([], 5, True)
    bot.conversations.hand_back(cid)
    assert asyncio.run(agent_replies(bot, cid, after)) == ([], 5, False)
    assert asyncio.run(agent_replies(bot, "no-such-conversation", 0)) == ([], 0, False)
    assert asyncio.run(agent_replies(None, cid, 0)) == ([], 0, False)


def test_the_page_builds_with_its_poll_timer() -> None:
    assert build_chat_ui(lambda: None) is not None
