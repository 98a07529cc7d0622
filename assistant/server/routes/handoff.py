"""Human handoff over the API: the customer asks for a person; an agent acknowledges, then hands back.

    POST /v1/handoff                                  customer (widget button or SDK): pause the assistant
    POST /v1/conversations/{id}/handoff/ack           agent (secret key): "I have it"
    POST /v1/conversations/{id}/handback              agent (secret key): the assistant answers again

The agent queue (claim, notes, close, the queue itself) is routes/queue.py.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Path, Query

from assistant.engine.conversations import Conversations
from assistant.engine.events import Handoff, Reply
from assistant.engine.queue import AlreadyClaimed
from assistant.server.auth import Principal, check_conversation, link_session
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.site_schemas import HandoffOut, HandoffRequest

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["handoff"])
ConversationId = Path(max_length=64, description="Conversation id.")
REQUEST_NOTE = "(The customer asked to talk to a person.)"


def _out(conversations: Conversations, conversation_id: str, site_id: str, message: str = "") -> HandoffOut:
    state = conversations.handoff(conversation_id, site_id)
    return HandoffOut(conversation_id=state.conversation_id, status=state.status,
                      handoff_reason=state.handoff_reason, message=message, acknowledged_at=state.acknowledged_at)


@router.post("/handoff", response_model=HandoffOut, dependencies=[JSONBody])
async def request_person(body: HandoffRequest, caller: LimitedCallerDep, assistant: AssistantDep) -> HandoffOut:
    """Pause the assistant and ask for a person; starts a conversation when none is given. Idempotent."""
    conversations = assistant.conversations
    site_id = caller.site.id
    answer = assistant.handoff_message(site_id)  # the site's own, never another site's
    if body.conversation_id is not None:
        check_conversation(conversations, caller, body.conversation_id)
        if conversations.get(body.conversation_id, site_id).status == "handoff":
            return _out(conversations, body.conversation_id, site_id, answer)
    note = (body.message or "").strip() or REQUEST_NOTE
    conv_id, message_id = await asyncio.to_thread(conversations.request_person, body.conversation_id, site_id,
                                                  note, answer)
    link_session(conversations, caller, conv_id)
    handoff = Handoff(reason="customer_request", detail="The customer asked for a person.")
    reply = Reply(conversation_id=conv_id, message_id=message_id, answer=answer, route="handoff", handoff=handoff)
    turns = await asyncio.to_thread(conversations.transcript, conv_id, site_id)
    await asyncio.to_thread(assistant.notify_handoff, reply, turns)  # store work: off the event loop
    return _out(conversations, conv_id, site_id, answer)


def agent_only(caller: Principal) -> None:
    if caller.is_session:
        raise APIError(403, "forbidden", "only an agent's system (secret API key) can do this")


@router.post("/conversations/{conversation_id}/handoff/ack", response_model=HandoffOut)
def acknowledge(caller: LimitedCallerDep, assistant: AssistantDep, conversation_id: str = ConversationId,
                agent: str = Query("", max_length=100, description="Who took it.")) -> HandoffOut:
    """An agent confirms they have taken the handed-off conversation: with `agent`, it is claimed for them in the
    agent queue (as POST .../claim; 409 already_claimed if another agent has it)."""
    conversations = assistant.conversations
    agent_only(caller)
    check_conversation(conversations, caller, conversation_id)
    if conversations.get(conversation_id, caller.site.id).status != "handoff":
        raise APIError(409, "not_handed_off", "this conversation is not waiting for a person")
    if agent.strip():
        try:
            assistant.handoffs.claim(conversation_id, caller.site.id, agent)
        except AlreadyClaimed as exc:
            raise APIError(409, "already_claimed", str(exc)) from exc
    else:  # nobody named: only "someone has it"
        conversations.acknowledge_handoff(conversation_id, agent)
    return _out(conversations, conversation_id, caller.site.id)


@router.post("/conversations/{conversation_id}/handback", response_model=HandoffOut)
def hand_back(caller: LimitedCallerDep, assistant: AssistantDep, conversation_id: str = ConversationId,
              agent: str = Query("", max_length=100, description="Who hands it back (audit log).")) -> HandoffOut:
    """The agent is done: the assistant answers this conversation again (the queue item ends as handed back)."""
    conversations = assistant.conversations
    agent_only(caller)
    check_conversation(conversations, caller, conversation_id)
    if conversations.get(conversation_id, caller.site.id).status != "handoff":
        raise APIError(409, "not_handed_off", "this conversation is not with a person")
    assistant.handoffs.hand_back(conversation_id, caller.site.id, agent)
    return _out(conversations, conversation_id, caller.site.id)
