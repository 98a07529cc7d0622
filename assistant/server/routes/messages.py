"""A person answers a handed-off customer; the customer's widget (or the agent's system) polls for what is new.

    POST /v1/conversations/{id}/messages              agent (secret key): {"text", "author"} -> the stored message
    GET  /v1/conversations/{id}/messages?after=SEQ    widget session (its own conversation) or secret key:
                                                      the messages after SEQ and the conversation's status

An agent's message is stored in the transcript with role "agent" and its author (the display name the
customer sees). While a person has the conversation (status "handoff") the assistant stays silent: customer
messages are stored and answered with nothing (route "paused"). Errors: 404 another site's (or session's)
conversation, 409 not handed off, 400 empty or over-long text or author; nothing is stored then.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Path, Query

from assistant.server.auth import check_conversation
from assistant.server.deps import AssistantDep, JSONBody, SettingsDep
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep, PollingCallerDep
from assistant.server.site_schemas import AgentMessageIn, NewMessagesOut, ThreadMessage

router = APIRouter(prefix="/v1", tags=["handoff"])
ConversationId = Path(max_length=64, description="Conversation id.")


@router.post("/conversations/{conversation_id}/messages", response_model=ThreadMessage, status_code=201,
             dependencies=[JSONBody],
             responses={400: {"description": "Empty or over-long text or author; nothing stored."},
                        404: {"description": "No such conversation for this site."},
                        409: {"description": "The conversation is not with a person (not handed off)."}})
async def agent_reply(body: AgentMessageIn, caller: LimitedCallerDep, assistant: AssistantDep,
                      settings: SettingsDep, conversation_id: str = ConversationId) -> ThreadMessage:
    """An agent answers the customer of a handed-off conversation; the widget shows it with the author's name."""
    if caller.is_session:
        raise APIError(403, "forbidden", "only an agent's system (secret API key) can do this")
    # Through the queue: the reply is audited, announced to the site's webhook and claims an unclaimed conversation.
    message = await asyncio.to_thread(assistant.handoffs.reply, conversation_id, caller.site.id,
                                      body.author, body.text, max_chars=settings.server.max_message_chars)
    return ThreadMessage.model_validate(message, from_attributes=True)


@router.get("/conversations/{conversation_id}/messages", response_model=NewMessagesOut,
            responses={404: {"description": "No such conversation for this site (or this widget session)."}})
async def new_messages(caller: PollingCallerDep, assistant: AssistantDep, conversation_id: str = ConversationId,
                       after: int = Query(0, ge=0, le=1_000_000_000,
                                          description="Only messages with a greater seq (0: all)."),
                       limit: int = Query(100, ge=1, le=500)) -> NewMessagesOut:
    """What is new in a conversation since `after`, and whether a person still has it (poll about once a second
    while the status is handoff). The assistant's silent replies while a person had it are left out."""
    conversations = assistant.conversations
    await asyncio.to_thread(check_conversation, conversations, caller, conversation_id)
    new = await asyncio.to_thread(conversations.messages_after, conversation_id, caller.site.id, after, limit)
    return NewMessagesOut(conversation_id=new.conversation_id, status=new.status, last_seq=new.last_seq,
                          messages=[ThreadMessage.model_validate(m, from_attributes=True) for m in new.messages])
