"""The API's endpoints as plain request descriptions, shared by the sync and async clients.

Each function returns a `Call`; a client sends it (with retries) and parses the answer into `model`.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from assistant.sdk import types as t


@dataclass
class Call:
    method: str
    path: str
    model: Any = None  # a pydantic model or TypeAdapter-able type; None = no body
    json: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    # for an answer that is not a JSON body (a download): builds the result from the whole response
    reader: Callable[[httpx.Response], Any] | None = None

    def parse(self, payload: Any) -> Any:
        return None if self.model is None else TypeAdapter(self.model).validate_python(payload)

    def result(self, response: httpx.Response) -> Any:
        if self.reader is not None:
            return self.reader(response)
        return self.parse(response.json()) if self.model is not None else None


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def chat(message: str, conversation_id: str | None, stream: bool, **options: Any) -> Call:
    body = _drop_none({"message": message, "conversation_id": conversation_id, "stream": stream, **options})
    return Call("POST", "/v1/chat", t.Reply, json=body)


def list_conversations(**filters: Any) -> Call:
    params = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in _drop_none(filters).items()}
    return Call("GET", "/v1/conversations", t.ConversationPage, params=params)


def get_conversation(conversation_id: str) -> Call:
    return Call("GET", f"/v1/conversations/{quote(conversation_id, safe='')}", t.Conversation)


def delete_conversation(conversation_id: str) -> Call:
    return Call("DELETE", f"/v1/conversations/{quote(conversation_id, safe='')}")


def feedback(conversation_id: str, message_id: str, rating: str | None, correction: str | None) -> Call:
    body = _drop_none({"conversation_id": conversation_id, "message_id": message_id, "rating": rating,
                       "correction": correction})
    return Call("POST", "/v1/feedback", t.FeedbackOut, json=body)


def request_handoff(conversation_id: str | None, message: str | None) -> Call:
    return Call("POST", "/v1/handoff", t.HandoffOut,
                json=_drop_none({"conversation_id": conversation_id, "message": message}))


def acknowledge_handoff(conversation_id: str, agent: str) -> Call:
    return Call("POST", f"/v1/conversations/{quote(conversation_id, safe='')}/handoff/ack", t.HandoffOut, params={"agent": agent})


def hand_back(conversation_id: str, agent: str = "") -> Call:
    return Call("POST", f"/v1/conversations/{quote(conversation_id, safe='')}/handback", t.HandoffOut,
                params={"agent": agent} if agent else {})


def queue(view: str, agent: str | None, limit: int) -> Call:
    return Call("GET", "/v1/queue", t.QueueOut, params=_drop_none({"view": view, "agent": agent, "limit": limit}))


def claim(conversation_id: str, agent: str) -> Call:
    return Call("POST", f"/v1/conversations/{quote(conversation_id, safe='')}/claim", t.QueueItemOut,
                json={"agent": agent})


def close_handoff(conversation_id: str, agent: str) -> Call:
    return Call("POST", f"/v1/conversations/{quote(conversation_id, safe='')}/close", t.QueueItemOut,
                json={"agent": agent})


def add_note(conversation_id: str, author: str, text: str) -> Call:
    return Call("POST", f"/v1/conversations/{quote(conversation_id, safe='')}/notes", t.NoteOut,
                json={"author": author, "text": text})


def notes(conversation_id: str) -> Call:
    return Call("GET", f"/v1/conversations/{quote(conversation_id, safe='')}/notes", list[t.NoteOut])


def webhook_deliveries(limit: int) -> Call:
    return Call("GET", "/v1/webhooks/deliveries", list[t.DeliveryOut], params={"limit": limit})


def agent_reply(conversation_id: str, text: str, author: str) -> Call:
    return Call("POST", f"/v1/conversations/{quote(conversation_id, safe='')}/messages", t.ThreadMessage,
                json={"text": text, "author": author})


def new_messages(conversation_id: str, after: int) -> Call:
    return Call("GET", f"/v1/conversations/{quote(conversation_id, safe='')}/messages", t.NewMessagesOut,
                params={"after": after})


def leave_contact(conversation_id: str, email: str) -> Call:
    return Call("POST", f"/v1/conversations/{quote(conversation_id, safe='')}/contact", t.ContactOut,
                json={"email": email})


# -- templates ---------------------------------------------------------------------------------------
def _template(template_id: str) -> str:
    return f"/v1/templates/{quote(template_id, safe='')}"


def list_templates() -> Call:
    return Call("GET", "/v1/templates", t.TemplatesOut)


def get_template(template_id: str) -> Call:
    return Call("GET", _template(template_id), t.TemplateOut)


def save_template(template_id: str, intent: str, text: str, sources: list[str] | None, requires: list[str] | None,
                  threshold: float | None) -> Call:
    body = _drop_none({"intent": intent, "text": text, "sources": sources, "requires": requires,
                       "threshold": threshold})
    return Call("PUT", _template(template_id), t.TemplateOut, json=body)


def retire_template(template_id: str) -> Call:
    return Call("DELETE", _template(template_id), t.TemplateOut)


def revert_template(template_id: str, version: int) -> Call:
    return Call("POST", f"{_template(template_id)}/revert", t.TemplateOut, json={"version": version})


# -- unanswered questions ----------------------------------------------------------------------------
def unanswered(limit: int) -> Call:
    return Call("GET", "/v1/unanswered", t.UnansweredOut, params={"limit": limit})


def answer_unanswered(question: str, answer: str, question_ids: list[str], author: str | None) -> Call:
    body = _drop_none({"question": question, "answer": answer, "question_ids": question_ids, "author": author})
    return Call("POST", "/v1/unanswered/answer", t.UnansweredAnswerOut, json=body)


# -- exports -----------------------------------------------------------------------------------------
def export_conversations(format: str, since: datetime | None, until: datetime | None, route: str | None,
                         sentiment: str | None) -> Call:
    params = _drop_none({"format": format, "since": since.isoformat() if since else None,
                         "until": until.isoformat() if until else None, "route": route, "sentiment": sentiment})

    def read(response: httpx.Response) -> t.ConversationExport:
        return t.ConversationExport(format=format, count=int(response.headers.get("x-export-count", "0")),
                                    text=response.text)

    return Call("GET", "/v1/exports/conversations", params=params, reader=read)


def kb_upload(paths: list[str | Path]) -> Call:
    files = []
    for raw in paths:
        path = Path(raw)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files.append(("files", (path.name, path.read_bytes(), kind)))
    return Call("POST", "/v1/kb/documents", t.KbUploadOut, files=files)


def kb_documents() -> Call:
    return Call("GET", "/v1/kb/documents", list[t.KbDocument])


def kb_delete(doc_id: str) -> Call:
    return Call("DELETE", f"/v1/kb/documents/{quote(doc_id, safe='/')}")


def kb_search(query: str, k: int, mode: str | None) -> Call:
    return Call("POST", "/v1/kb/search", list[t.KbHit], json=_drop_none({"query": query, "k": k, "mode": mode}))


def site() -> Call:
    return Call("GET", "/v1/site", t.SiteOut)


def health() -> Call:
    return Call("GET", "/healthz", t.Health)
