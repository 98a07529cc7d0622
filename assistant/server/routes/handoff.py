"""Human handoff over the API: the customer asks for a person; an agent acknowledges, then hands back.

    POST /v1/handoff                                  customer (widget button or SDK): pause the assistant
    POST /v1/conversations/{id}/handoff/ack           agent (secret key): "I have it"
    POST /v1/conversations/{id}/handback              agent (secret key): the assistant answers again
    POST /v1/conversations/{id}/contact               customer (widget, own conversation) or key: an e-mail address
                                                      for a person to write back (outside opening hours)

The agent queue (claim, notes, close, the queue itself) is routes/queue.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, Path, Query

from assistant.engine.contacts import InvalidContact
from assistant.engine.conversations import Conversations
from assistant.engine.events import Handoff, Reply
from assistant.engine.queue import AlreadyClaimed
from assistant.server.auth import Principal, check_conversation, link_session
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.site_schemas import ContactIn, ContactOut, HandoffOut, HandoffRequest

if TYPE_CHECKING:
    from assistant.engine.site_profile import HandoffNotice

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["handoff"])
ConversationId = Path(max_length=64, description="Conversation id.")
REQUEST_NOTE = "(The customer asked to talk to a person.)"


def _out(conversations: Conversations, conversation_id: str, site_id: str, message: str = "",
         notice: HandoffNotice | None = None) -> HandoffOut:
    state = conversations.handoff(conversation_id, site_id)
    return HandoffOut(conversation_id=state.conversation_id, status=state.status,
                      handoff_reason=state.handoff_reason, message=message, acknowledged_at=state.acknowledged_at,
                      after_hours=bool(notice and notice.after_hours), opens_at=notice.opens_at if notice else None)


@router.post("/handoff", response_model=HandoffOut, dependencies=[JSONBody])
async def request_person(body: HandoffRequest, caller: LimitedCallerDep, assistant: AssistantDep) -> HandoffOut:
    """Pause the assistant and ask for a person; starts a conversation when none is given. Idempotent."""
    conversations = assistant.conversations
    site_id = caller.site.id
    if body.conversation_id is not None:
        check_conversation(conversations, caller, body.conversation_id)
    # the site's own message, never another site's; outside its opening hours, when a person answers, in the
    # customer's language: their note's, else (the widget's button sends none) the one they last wrote in
    language = await asyncio.to_thread(conversations.customer_language, body.conversation_id, site_id, body.message)
    # through the site's profile (as the widget's page reads it), which takes the language; a store read
    notice = await asyncio.to_thread(lambda: assistant.profiles.get(site_id).handoff_notice(language=language))
    answer = notice.text
    if body.conversation_id is not None and conversations.get(body.conversation_id, site_id).status == "handoff":
        return _out(conversations, body.conversation_id, site_id, answer, notice)
    note = (body.message or "").strip() or REQUEST_NOTE
    conv_id, message_id = await asyncio.to_thread(conversations.request_person, body.conversation_id, site_id,
                                                  note, answer)
    link_session(conversations, caller, conv_id)
    handoff = Handoff(reason="customer_request", detail="The customer asked for a person.",
                      after_hours=notice.after_hours, opens_at=notice.opens_at)
    reply = Reply(conversation_id=conv_id, message_id=message_id, answer=answer, route="handoff", handoff=handoff)
    turns = await asyncio.to_thread(conversations.transcript, conv_id, site_id)
    await asyncio.to_thread(assistant.notify_handoff, reply, turns)  # store work: off the event loop
    return _out(conversations, conv_id, site_id, answer, notice)


@router.post("/conversations/{conversation_id}/contact", response_model=ContactOut, dependencies=[JSONBody],
             responses={400: {"description": "Not an e-mail address; nothing stored."},
                        404: {"description": "No such conversation for this site (or this widget session)."}})
async def leave_contact(body: ContactIn, caller: LimitedCallerDep, assistant: AssistantDep,
                        conversation_id: str = ConversationId) -> ContactOut:
    """The customer leaves an e-mail address for a person to write back (the widget offers it after a handoff
    outside opening hours). Stored with the conversation, apart from its messages, so agents see it and no
    training or conversation export does; a second address replaces the first."""
    await asyncio.to_thread(check_conversation, assistant.conversations, caller, conversation_id)
    try:
        email = await asyncio.to_thread(assistant.leave_contact, conversation_id, caller.site.id, body.email)
    except InvalidContact as exc:
        raise APIError(400, "invalid_email", str(exc)) from exc
    return ContactOut(conversation_id=conversation_id, email=email)


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
