"""GET /v1/conversations/{id}: a conversation's transcript with per-message metadata."""

from __future__ import annotations

from fastapi import APIRouter, Path

from assistant.server.deps import AssistantDep
from assistant.server.schemas import ConversationOut, MessageOut

router = APIRouter(prefix="/v1", tags=["conversations"])


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(assistant: AssistantDep,
                           conversation_id: str = Path(max_length=64)) -> ConversationOut:
    conv = assistant.store.get_conversation(conversation_id)
    return ConversationOut(
        id=conv.id, site_id=conv.site_id, status=conv.status, handoff_reason=conv.handoff_reason,
        created_at=conv.created_at, updated_at=conv.updated_at,
        messages=[MessageOut.model_validate(m, from_attributes=True) for m in conv.messages],
    )
