"""The agent queue (secret key): what waits for a person, claim, internal notes, close; and the webhook log.

    GET  /v1/queue?view=waiting|claimed|mine|closed[&agent=NAME]   the site's handed-off conversations
    POST /v1/conversations/{id}/claim       {"agent"}              take it (409 if another agent has it)
    POST /v1/conversations/{id}/notes       {"author", "text"}     an internal note, never shown to the customer
    GET  /v1/conversations/{id}/notes
    POST /v1/conversations/{id}/close       {"agent"}              done: the handoff ends
    GET  /v1/webhooks/deliveries                                   what was sent to the site's webhook, and how it went

Replies (POST .../messages) and hand back (POST .../handback) are in messages.py and handoff.py. Errors, all in
the API's one JSON shape: 404 another site's conversation, 409 not handed off or claimed by someone else,
400 empty or over-long text or name; a widget session gets 403.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Path, Query

from assistant.engine.queue import AlreadyClaimed, QueueEntry
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.queue_schemas import AgentIn, DeliveryOut, NoteIn, NoteOut, QueueItemOut, QueueOut
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.routes.handoff import agent_only

router = APIRouter(prefix="/v1", tags=["agent queue"])
ConversationId = Path(max_length=64, description="Conversation id.")
CONFLICT = {404: {"description": "No such conversation for this site."},
            409: {"description": "Not handed off, or claimed by another agent."},
            400: {"description": "Empty or over-long name or text; nothing stored."}}


def item_out(entry: QueueEntry) -> QueueItemOut:
    return QueueItemOut.model_validate(entry, from_attributes=True)


def already_claimed(exc: AlreadyClaimed) -> APIError:
    return APIError(409, "already_claimed", str(exc))


@router.get("/queue", response_model=QueueOut)
async def queue(caller: LimitedCallerDep, assistant: AssistantDep,
                view: Literal["waiting", "claimed", "mine", "closed"] = Query("waiting"),
                agent: str | None = Query(None, max_length=100, description="Whose ('mine' needs it)."),
                limit: int = Query(50, ge=1, le=200)) -> QueueOut:
    """Waiting (longest first, with the time waited so far), claimed, mine or closed (latest first)."""
    agent_only(caller)
    items = await asyncio.to_thread(assistant.handoffs.items, caller.site.id, view, agent=agent, limit=limit)
    return QueueOut(view=view, items=[item_out(e) for e in items])


@router.post("/conversations/{conversation_id}/claim", response_model=QueueItemOut, dependencies=[JSONBody],
             responses=CONFLICT)
async def claim(body: AgentIn, caller: LimitedCallerDep, assistant: AssistantDep,
                conversation_id: str = ConversationId) -> QueueItemOut:
    """Take a handed-off conversation (claiming one you have already changes nothing)."""
    agent_only(caller)
    try:
        entry = await asyncio.to_thread(assistant.handoffs.claim, conversation_id, caller.site.id, body.agent)
    except AlreadyClaimed as exc:
        raise already_claimed(exc) from exc
    return item_out(entry)


@router.post("/conversations/{conversation_id}/notes", response_model=NoteOut, status_code=201,
             dependencies=[JSONBody], responses=CONFLICT)
async def add_note(body: NoteIn, caller: LimitedCallerDep, assistant: AssistantDep,
                   conversation_id: str = ConversationId) -> NoteOut:
    """An internal note for the site's agents: stored apart from the transcript, never shown to the customer."""
    agent_only(caller)
    note = await asyncio.to_thread(assistant.handoffs.note, conversation_id, caller.site.id, body.author, body.text)
    return NoteOut.model_validate(note, from_attributes=True)


@router.get("/conversations/{conversation_id}/notes", response_model=list[NoteOut],
            responses={404: CONFLICT[404]})
async def notes(caller: LimitedCallerDep, assistant: AssistantDep,
                conversation_id: str = ConversationId) -> list[NoteOut]:
    agent_only(caller)
    rows = await asyncio.to_thread(assistant.handoffs.notes, conversation_id, caller.site.id)
    return [NoteOut.model_validate(n, from_attributes=True) for n in rows]


@router.post("/conversations/{conversation_id}/close", response_model=QueueItemOut, dependencies=[JSONBody],
             responses=CONFLICT)
async def close(body: AgentIn, caller: LimitedCallerDep, assistant: AssistantDep,
                conversation_id: str = ConversationId) -> QueueItemOut:
    """The matter is done: the handoff ends; should the customer write again, the assistant answers."""
    agent_only(caller)
    entry = await asyncio.to_thread(assistant.handoffs.close, conversation_id, caller.site.id, body.agent)
    return item_out(entry)


@router.get("/webhooks/deliveries", response_model=list[DeliveryOut])
async def deliveries(caller: LimitedCallerDep, assistant: AssistantDep,
                     limit: int = Query(100, ge=1, le=500)) -> list[DeliveryOut]:
    """The site's webhook deliveries, newest first: event, URL, attempts, status, last error."""
    agent_only(caller)
    rows = await asyncio.to_thread(assistant.webhooks.deliveries, caller.site.id, limit)
    return [DeliveryOut.model_validate(d, from_attributes=True) for d in rows]
