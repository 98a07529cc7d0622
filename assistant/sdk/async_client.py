"""The asynchronous SDK client: the same calls as `Client`, awaitable; `stream()` is an async iterator.

    import asyncio
    from assistant.sdk import AsyncClient

    async def main() -> None:
        async with AsyncClient("http://127.0.0.1:8000", api_key="sk_...") as client:
            reply = await client.chat("How long do refunds take?")
            async for event in client.stream("And exchanges?", conversation_id=reply.conversation_id):
                if event.type == "token":
                    print(event.text, end="", flush=True)

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from assistant.sdk import endpoints as ep
from assistant.sdk import types as t
from assistant.sdk.client import DEFAULT_TIMEOUT, _headers
from assistant.sdk.errors import ConnectionFailed, from_response
from assistant.sdk.retry import RetryPolicy
from assistant.sdk.sse import aevents


class AsyncClient:
    """Async twin of `Client` (see there for arguments); use one instance for many concurrent calls."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None, headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, max_connections: int = 100) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout,
                                       headers=_headers(api_key, headers), transport=transport,
                                       limits=httpx.Limits(max_connections=max_connections))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- plumbing --------------------------------------------------------------------------
    async def _send(self, call: ep.Call, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            request = self._http.build_request(call.method, call.path, json=call.json, params=call.params or None,
                                               files=call.files)
            try:
                response = await self._http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if not self.retry.should_retry(attempt, None):
                    raise ConnectionFailed(0, "connection_failed", str(exc)) from exc
                await asyncio.sleep(self.retry.delay(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return response
            if stream:
                await response.aread()
                await response.aclose()
            error = from_response(response)
            if not self.retry.should_retry(attempt, response.status_code):
                raise error
            await asyncio.sleep(self.retry.delay(attempt, error.retry_after))
            attempt += 1

    async def _call(self, call: ep.Call) -> Any:
        response = await self._send(call)
        return call.result(response)

    # -- chat ------------------------------------------------------------------------------
    async def chat(self, message: str, conversation_id: str | None = None, **options: Any) -> t.Reply:
        """One turn; `(await client.chat("Where is my parcel?")).answer`."""
        return await self._call(ep.chat(message, conversation_id, False, **options))

    async def stream(self, message: str, conversation_id: str | None = None,
                     **options: Any) -> AsyncIterator[t.StreamEvent]:
        """One turn as typed events (see Client.stream): `async for event in client.stream("Hi"): ...`."""
        response = await self._send(ep.chat(message, conversation_id, True, **options), stream=True)
        try:
            async for event in aevents(response.aiter_lines()):
                yield event
        finally:
            await response.aclose()

    # -- conversations ---------------------------------------------------------------------
    async def list_conversations(self, *, status: Literal["active", "handoff"] | None = None,
                                 since: datetime | None = None, until: datetime | None = None,
                                 handoff_reason: str | None = None, limit: int = 20,
                                 offset: int = 0) -> t.ConversationPage:
        return await self._call(ep.list_conversations(status=status, since=since, until=until,
                                                      handoff_reason=handoff_reason, limit=limit, offset=offset))

    async def get_conversation(self, conversation_id: str) -> t.Conversation:
        return await self._call(ep.get_conversation(conversation_id))

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._call(ep.delete_conversation(conversation_id))

    async def feedback(self, conversation_id: str, message_id: str, rating: Literal["up", "down"] | None = None,
                       correction: str | None = None) -> t.FeedbackOut:
        return await self._call(ep.feedback(conversation_id, message_id, rating, correction))

    async def request_handoff(self, conversation_id: str | None = None, message: str | None = None) -> t.HandoffOut:
        return await self._call(ep.request_handoff(conversation_id, message))

    async def acknowledge_handoff(self, conversation_id: str, agent: str = "") -> t.HandoffOut:
        return await self._call(ep.acknowledge_handoff(conversation_id, agent))

    async def hand_back(self, conversation_id: str, agent: str = "") -> t.HandoffOut:
        return await self._call(ep.hand_back(conversation_id, agent))

    async def queue(self, view: Literal["waiting", "claimed", "mine", "closed"] = "waiting",
                    agent: str | None = None, limit: int = 50) -> t.QueueOut:
        return await self._call(ep.queue(view, agent, limit))

    async def claim(self, conversation_id: str, agent: str) -> t.QueueItemOut:
        return await self._call(ep.claim(conversation_id, agent))

    async def close_handoff(self, conversation_id: str, agent: str) -> t.QueueItemOut:
        return await self._call(ep.close_handoff(conversation_id, agent))

    async def add_note(self, conversation_id: str, author: str, text: str) -> t.NoteOut:
        return await self._call(ep.add_note(conversation_id, author, text))

    async def notes(self, conversation_id: str) -> list[t.NoteOut]:
        return await self._call(ep.notes(conversation_id))

    async def webhook_deliveries(self, limit: int = 100) -> list[t.DeliveryOut]:
        return await self._call(ep.webhook_deliveries(limit))

    async def agent_reply(self, conversation_id: str, text: str, author: str) -> t.ThreadMessage:
        return await self._call(ep.agent_reply(conversation_id, text, author))

    async def new_messages(self, conversation_id: str, after: int = 0) -> t.NewMessagesOut:
        return await self._call(ep.new_messages(conversation_id, after))

    async def leave_contact(self, conversation_id: str, email: str) -> t.ContactOut:
        return await self._call(ep.leave_contact(conversation_id, email))

    # -- templates -------------------------------------------------------------------------
    async def templates(self) -> t.TemplatesOut:
        return await self._call(ep.list_templates())

    async def get_template(self, template_id: str) -> t.TemplateOut:
        return await self._call(ep.get_template(template_id))

    async def save_template(self, template_id: str, intent: str, text: str, *, sources: list[str] | None = None,
                            requires: list[str] | None = None, threshold: float | None = None) -> t.TemplateOut:
        return await self._call(ep.save_template(template_id, intent, text, sources, requires, threshold))

    async def retire_template(self, template_id: str) -> t.TemplateOut:
        return await self._call(ep.retire_template(template_id))

    async def revert_template(self, template_id: str, version: int) -> t.TemplateOut:
        return await self._call(ep.revert_template(template_id, version))

    # -- unanswered questions and exports --------------------------------------------------
    async def unanswered(self, limit: int = 50) -> t.UnansweredOut:
        return await self._call(ep.unanswered(limit))

    async def answer_unanswered(self, question: str, answer: str, question_ids: list[str],
                                author: str | None = None) -> t.UnansweredAnswerOut:
        return await self._call(ep.answer_unanswered(question, answer, question_ids, author))

    async def export_conversations(self, format: Literal["jsonl", "csv"] = "jsonl", *,
                                   since: datetime | None = None, until: datetime | None = None,
                                   route: str | None = None, sentiment: str | None = None) -> t.ConversationExport:
        return await self._call(ep.export_conversations(format, since, until, route, sentiment))

    # -- knowledge base --------------------------------------------------------------------
    async def kb_upload(self, *paths: str | Path) -> t.KbUploadOut:
        return await self._call(ep.kb_upload(list(paths)))

    async def kb_documents(self) -> list[t.KbDocument]:
        return await self._call(ep.kb_documents())

    async def kb_delete(self, doc_id: str) -> None:
        await self._call(ep.kb_delete(doc_id))

    async def kb_search(self, query: str, k: int = 4, mode: str | None = None) -> list[t.KbHit]:
        return await self._call(ep.kb_search(query, k, mode))

    # -- site and health -------------------------------------------------------------------
    async def site(self) -> t.SiteOut:
        return await self._call(ep.site())

    async def health(self) -> t.Health:
        return await self._call(ep.health())
