"""The async SDK client against a real HTTP server: concurrent chats and streams, typed events."""

from __future__ import annotations

import asyncio

import pytest

from assistant.sdk import AsyncClient, NotFound
from assistant.sdk.types import DoneEvent, TokenEvent


def test_concurrent_chats_and_streams(live) -> None:
    async def run() -> None:
        async with AsyncClient(live.base, live.keys["acme"]) as client:
            replies = await asyncio.gather(*(client.chat(f"Refund question {i}?") for i in range(5)))
            assert len({r.conversation_id for r in replies}) == 5

            async def streamed(cid: str) -> tuple[str, str]:
                tokens, done = [], None
                async for event in client.stream("And exchanges?", conversation_id=cid):
                    if isinstance(event, TokenEvent):
                        tokens.append(event.text)
                    elif isinstance(event, DoneEvent):
                        done = event.reply.answer
                return "".join(tokens).strip(), done

            for tokens, done in await asyncio.gather(*(streamed(r.conversation_id) for r in replies)):
                assert tokens == done and done
            page = await client.list_conversations(limit=100)
            assert page.total == 5
            await client.delete_conversation(replies[0].conversation_id)
            with pytest.raises(NotFound):
                await client.get_conversation(replies[0].conversation_id)

    asyncio.run(run())
