"""Conversations of the caller's site: list (filters + pagination), get a transcript, delete (erase on request).

A widget session sees only the conversations it started; listing needs a secret key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Path, Query, Response

from assistant.server.auth import check_conversation
from assistant.server.deps import AssistantDep
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.schemas import ConversationOut, MessageOut
from assistant.server.site_schemas import ConversationPage, ConversationSummary

router = APIRouter(prefix="/v1", tags=["conversations"])
ConversationId = Path(max_length=64, description="Conversation id.")


@router.get("/conversations", response_model=ConversationPage)
def list_conversations(
    caller: LimitedCallerDep,
    assistant: AssistantDep,
    status: Literal["active", "handoff"] | None = Query(None, description="Only this status."),
    since: datetime | None = Query(None, description="Updated at or after (ISO 8601)."),
    until: datetime | None = Query(None, description="Updated before (ISO 8601)."),
    handoff_reason: str | None = Query(None, max_length=64),
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> ConversationPage:
    if caller.is_session:
        raise APIError(403, "forbidden", "a widget session cannot list conversations; use a secret API key")
    page = assistant.conversations.page(caller.site.id, status=status, since=since, until=until,
                                        handoff_reason=handoff_reason, limit=limit, offset=offset)
    items = [ConversationSummary.model_validate(c, from_attributes=True) for c in page.items]
    following = offset + len(items)
    return ConversationPage(items=items, total=page.total, limit=limit, offset=offset,
                            next_offset=following if following < page.total else None)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
def get_conversation(caller: LimitedCallerDep, assistant: AssistantDep,
                     conversation_id: str = ConversationId) -> ConversationOut:
    check_conversation(assistant.conversations, caller, conversation_id)
    conv = assistant.conversations.get(conversation_id, caller.site.id)
    return ConversationOut(
        id=conv.id, site_id=conv.site_id, status=conv.status, handoff_reason=conv.handoff_reason,
        created_at=conv.created_at, updated_at=conv.updated_at, contact_email=assistant.contact_of(conv.id),
        messages=[MessageOut.model_validate(m, from_attributes=True) for m in conv.messages],
    )


@router.delete("/conversations/{conversation_id}", status_code=204, response_class=Response,
               responses={404: {"description": "No such conversation for this site."}})
def delete_conversation(caller: LimitedCallerDep, assistant: AssistantDep,
                        conversation_id: str = ConversationId) -> Response:
    """Erase a conversation on request: its messages, feedback and widget link go with it."""
    check_conversation(assistant.conversations, caller, conversation_id)
    assistant.conversations.delete(conversation_id, caller.site.id)
    return Response(status_code=204)
