"""The synchronous SDK client (httpx): chat, streamed chat with typed events, conversations, feedback,
handoff, the agent queue, templates, unanswered questions, exports and knowledge-base calls, with retries on
429/503 and timeouts.

    from assistant.sdk import Client

    with Client("http://127.0.0.1:8000", api_key="sk_...") as client:
        reply = client.chat("How long do refunds take?")
        print(reply.answer, [s.title for s in reply.sources])
        for event in client.stream("And exchanges?", conversation_id=reply.conversation_id):
            if event.type == "token":
                print(event.text, end="", flush=True)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from assistant.sdk import endpoints as ep
from assistant.sdk import types as t
from assistant.sdk.errors import ConnectionFailed, from_response
from assistant.sdk.retry import RetryPolicy
from assistant.sdk.sse import events

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def _headers(api_key: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    headers = {"Accept": "application/json", **(extra or {})}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


class Client:
    """A client for one site. `api_key` is the site's secret key (sk_...); omit it for a keyless dev server.

    `timeout` is seconds (or an httpx.Timeout) per request; for `stream()` it bounds the wait
    between events, which keep-alives reset. `retry` backs off on 429/503 and connection errors.
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None, headers: dict[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=_headers(api_key, headers),
                                  transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing --------------------------------------------------------------------------
    def _build(self, call: ep.Call) -> httpx.Request:
        return self._http.build_request(call.method, call.path, json=call.json, params=call.params or None,
                                        files=call.files)

    def _send(self, call: ep.Call, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(self._build(call), stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if not self.retry.should_retry(attempt, None):
                    raise ConnectionFailed(0, "connection_failed", str(exc)) from exc
                time.sleep(self.retry.delay(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return response
            if stream:
                response.read()
                response.close()
            error = from_response(response)
            if not self.retry.should_retry(attempt, response.status_code):
                raise error
            time.sleep(self.retry.delay(attempt, error.retry_after))
            attempt += 1

    def _call(self, call: ep.Call) -> Any:
        response = self._send(call)
        return call.result(response)

    # -- chat ------------------------------------------------------------------------------
    def chat(self, message: str, conversation_id: str | None = None, **options: Any) -> t.Reply:
        """One turn; returns the full reply (answer, sources, intent, sentiment, handoff, timings).

        `options`: adapter, temperature, max_tokens. Example: `client.chat("Where is my parcel?").answer`
        """
        return self._call(ep.chat(message, conversation_id, False, **options))

    def stream(self, message: str, conversation_id: str | None = None, **options: Any) -> Iterator[t.StreamEvent]:
        """One turn as typed events: ClassificationEvent, SourcesEvent, TokenEvent*, [HandoffEvent], DoneEvent.

        A failure after the stream started arrives as an ErrorEvent. Example:
        `answer = "".join(e.text for e in client.stream("Hi") if e.type == "token")`
        """
        response = self._send(ep.chat(message, conversation_id, True, **options), stream=True)
        try:
            yield from events(response.iter_lines())
        finally:
            response.close()

    # -- conversations ---------------------------------------------------------------------
    def list_conversations(self, *, status: Literal["active", "handoff"] | None = None,
                           since: datetime | None = None, until: datetime | None = None,
                           handoff_reason: str | None = None, limit: int = 20, offset: int = 0) -> t.ConversationPage:
        """A page of the site's conversations, newest first; pass `page.next_offset` as `offset` for more."""
        return self._call(ep.list_conversations(status=status, since=since, until=until,
                                                handoff_reason=handoff_reason, limit=limit, offset=offset))

    def get_conversation(self, conversation_id: str) -> t.Conversation:
        """The transcript with per-message intent, sentiment, route and sources."""
        return self._call(ep.get_conversation(conversation_id))

    def delete_conversation(self, conversation_id: str) -> None:
        """Erase a conversation (messages, feedback) on the customer's request."""
        self._call(ep.delete_conversation(conversation_id))

    def feedback(self, conversation_id: str, message_id: str, rating: Literal["up", "down"] | None = None,
                 correction: str | None = None) -> t.FeedbackOut:
        """Thumbs up/down and/or a corrected answer for one reply: `client.feedback(cid, mid, "down", "5 days")`."""
        return self._call(ep.feedback(conversation_id, message_id, rating, correction))

    def request_handoff(self, conversation_id: str | None = None, message: str | None = None) -> t.HandoffOut:
        """Ask for a person (starts a conversation when none is given); the assistant pauses."""
        return self._call(ep.request_handoff(conversation_id, message))

    def acknowledge_handoff(self, conversation_id: str, agent: str = "") -> t.HandoffOut:
        """An agent has taken the conversation."""
        return self._call(ep.acknowledge_handoff(conversation_id, agent))

    def hand_back(self, conversation_id: str, agent: str = "") -> t.HandoffOut:
        """The agent is done; the assistant answers again (`agent` names them in the audit log)."""
        return self._call(ep.hand_back(conversation_id, agent))

    # -- the agent queue -------------------------------------------------------------------
    def queue(self, view: Literal["waiting", "claimed", "mine", "closed"] = "waiting", agent: str | None = None,
              limit: int = 50) -> t.QueueOut:
        """Handed-off conversations: waiting (longest first, `.waiting_s`), claimed, mine (`agent`), closed."""
        return self._call(ep.queue(view, agent, limit))

    def claim(self, conversation_id: str, agent: str) -> t.QueueItemOut:
        """Take a handed-off conversation (InvalidRequest, code `already_claimed`, if another agent has it)."""
        return self._call(ep.claim(conversation_id, agent))

    def close_handoff(self, conversation_id: str, agent: str) -> t.QueueItemOut:
        """Done: the handoff ends; the assistant answers if the customer writes again."""
        return self._call(ep.close_handoff(conversation_id, agent))

    def add_note(self, conversation_id: str, author: str, text: str) -> t.NoteOut:
        """An internal note for the site's agents; never shown to the customer."""
        return self._call(ep.add_note(conversation_id, author, text))

    def notes(self, conversation_id: str) -> list[t.NoteOut]:
        return self._call(ep.notes(conversation_id))

    def webhook_deliveries(self, limit: int = 100) -> list[t.DeliveryOut]:
        """What was sent to the site's webhook, newest first: event, attempts, status, last error."""
        return self._call(ep.webhook_deliveries(limit))

    def agent_reply(self, conversation_id: str, text: str, author: str) -> t.ThreadMessage:
        """A person answers the handed-off customer; `author` is the name the customer sees."""
        return self._call(ep.agent_reply(conversation_id, text, author))

    def new_messages(self, conversation_id: str, after: int = 0) -> t.NewMessagesOut:
        """The messages after seq `after` and the conversation's status (ask again with `after=.last_seq`)."""
        return self._call(ep.new_messages(conversation_id, after))

    def leave_contact(self, conversation_id: str, email: str) -> t.ContactOut:
        """The customer's e-mail address for a person to write back (InvalidRequest `invalid_email` if not one)."""
        return self._call(ep.leave_contact(conversation_id, email))

    # -- templates -------------------------------------------------------------------------
    def templates(self) -> t.TemplatesOut:
        """Every template of the site (file, edited, added, retired), each with its versions."""
        return self._call(ep.list_templates())

    def get_template(self, template_id: str) -> t.TemplateOut:
        """One template (NotFound `template_not_found` if this site has none of that id)."""
        return self._call(ep.get_template(template_id))

    def save_template(self, template_id: str, intent: str, text: str, *, sources: list[str] | None = None,
                      requires: list[str] | None = None, threshold: float | None = None) -> t.TemplateOut:
        """Add or edit: a new version, answering from the next turn (InvalidRequest `invalid_template`)."""
        return self._call(ep.save_template(template_id, intent, text, sources, requires, threshold))

    def retire_template(self, template_id: str) -> t.TemplateOut:
        """It no longer answers; its versions stay and `revert_template` brings it back."""
        return self._call(ep.retire_template(template_id))

    def revert_template(self, template_id: str, version: int) -> t.TemplateOut:
        """A new version with `version`'s content (0: the templates file's)."""
        return self._call(ep.revert_template(template_id, version))

    # -- unanswered questions and exports --------------------------------------------------
    def unanswered(self, limit: int = 50) -> t.UnansweredOut:
        """What the assistant could not answer, grouped by meaning, biggest group first."""
        return self._call(ep.unanswered(limit))

    def answer_unanswered(self, question: str, answer: str, question_ids: list[str],
                          author: str | None = None) -> t.UnansweredAnswerOut:
        """An FAQ entry of the site answering a group (pass its `question_ids`), used from the next turn."""
        return self._call(ep.answer_unanswered(question, answer, question_ids, author))

    def export_conversations(self, format: Literal["jsonl", "csv"] = "jsonl", *, since: datetime | None = None,
                             until: datetime | None = None, route: str | None = None,
                             sentiment: str | None = None) -> t.ConversationExport:
        """The site's conversations, redacted: `.text` as downloaded, `.records()` parsed, `.count`."""
        return self._call(ep.export_conversations(format, since, until, route, sentiment))

    # -- knowledge base --------------------------------------------------------------------
    def kb_upload(self, *paths: str | Path) -> t.KbUploadOut:
        """Add or update documents (.md .txt .html .pdf .csv .jsonl) in the site's knowledge base."""
        return self._call(ep.kb_upload(list(paths)))

    def kb_documents(self) -> list[t.KbDocument]:
        return self._call(ep.kb_documents())

    def kb_delete(self, doc_id: str) -> None:
        self._call(ep.kb_delete(doc_id))

    def kb_search(self, query: str, k: int = 4, mode: str | None = None) -> list[t.KbHit]:
        """The passages the assistant would ground an answer on: `client.kb_search("refund time")[0].title`."""
        return self._call(ep.kb_search(query, k, mode))

    # -- site and health -------------------------------------------------------------------
    def site(self) -> t.SiteOut:
        return self._call(ep.site())

    def health(self) -> t.Health:
        return self._call(ep.health())
