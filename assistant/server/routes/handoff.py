"""Human handoff over the API: the customer asks for a person; an agent acknowledges, then hands back.

    POST /v1/handoff                                  customer (widget button or SDK): pause the assistant
    POST /v1/conversations/{id}/handoff/ack           agent (secret key): "I have it"
    POST /v1/conversations/{id}/handback              agent (secret key): the assistant answers again
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Path, Query

from assistant.engine import handoffs, sites
from assistant.engine.events import Handoff, Reply
from assistant.engine.privacy import redact
from assistant.server.auth import Principal, SitesStoreDep, check_conversation
from assistant.server.deps import AssistantDep, JSONBody, SettingsDep
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.site_schemas import HandoffOut, HandoffRequest

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["handoff"])
ConversationId = Path(max_length=64, description="Conversation id.")
REQUEST_NOTE = "(The customer asked to talk to a person.)"


def _out(store: Any, conversation_id: str, site_id: str, message: str = "") -> HandoffOut:
    conv = store.get_conversation(conversation_id, site_id)
    acked = handoffs.acknowledged_at(store, conv.id, conv.handoff_at) if conv.status == "handoff" else None
    return HandoffOut(conversation_id=conv.id, status=conv.status, handoff_reason=conv.handoff_reason,
                      message=message, acknowledged_at=acked)


def _notify(assistant: Any, reply: Reply, transcript: list[tuple[str, str]]) -> None:
    for callback in getattr(assistant, "on_handoff", []):
        try:
            callback(reply, transcript)
        except Exception:  # noqa: BLE001 - a broken webhook must not fail the customer's request
            log.exception("handoff callback failed")


@router.post("/handoff", response_model=HandoffOut, dependencies=[JSONBody])
async def request_person(body: HandoffRequest, caller: LimitedCallerDep, assistant: AssistantDep,
                         settings: SettingsDep, store: SitesStoreDep) -> HandoffOut:
    """Pause the assistant and ask for a person; starts a conversation when none is given. Idempotent."""
    site_id = caller.site.id
    answer = settings.understanding.handoff_message
    if body.conversation_id is not None:
        check_conversation(store, caller, body.conversation_id)
        if store.get_conversation(body.conversation_id, site_id).status == "handoff":
            return _out(store, body.conversation_id, site_id, answer)
    note = (body.message or "").strip() or REQUEST_NOTE
    user = {"content": redact(note, settings.security), "route": None}
    bot = {"content": answer, "route": "handoff", "handoff_reason": "customer_request"}
    conv_id, message_id = await asyncio.to_thread(
        store.add_turn, body.conversation_id, site_id, user, bot, handoff_reason="customer_request"
    )
    _link(store, caller, conv_id)
    handoff = Handoff(reason="customer_request", detail="The customer asked for a person.")
    reply = Reply(conversation_id=conv_id, message_id=message_id, answer=answer, route="handoff", handoff=handoff)
    history = [(m.role, m.content) for m in store.get_conversation(conv_id, site_id).messages]
    _notify(assistant, reply, history)
    return _out(store, conv_id, site_id, answer)


def _link(store: Any, caller: Principal, conversation_id: str) -> None:
    if caller.is_session:
        sites.link_conversation(store, conversation_id, caller.site.id, caller.session_id or "")


def _agent(caller: Principal) -> None:
    if caller.is_session:
        raise APIError(403, "forbidden", "only an agent's system (secret API key) can do this")


@router.post("/conversations/{conversation_id}/handoff/ack", response_model=HandoffOut)
def acknowledge(caller: LimitedCallerDep, store: SitesStoreDep, conversation_id: str = ConversationId,
                agent: str = Query("", max_length=100, description="Who took it.")) -> HandoffOut:
    """An agent confirms they have taken the handed-off conversation."""
    _agent(caller)
    check_conversation(store, caller, conversation_id)
    if store.get_conversation(conversation_id, caller.site.id).status != "handoff":
        raise APIError(409, "not_handed_off", "this conversation is not waiting for a person")
    handoffs.acknowledge(store, conversation_id, agent)
    return _out(store, conversation_id, caller.site.id)


@router.post("/conversations/{conversation_id}/handback", response_model=HandoffOut)
def hand_back(caller: LimitedCallerDep, store: SitesStoreDep, conversation_id: str = ConversationId) -> HandoffOut:
    """The agent is done: the assistant answers this conversation again."""
    _agent(caller)
    check_conversation(store, caller, conversation_id)
    if store.get_conversation(conversation_id, caller.site.id).status != "handoff":
        raise APIError(409, "not_handed_off", "this conversation is not with a person")
    store.set_status(conversation_id, "active", None)
    return _out(store, conversation_id, caller.site.id)
