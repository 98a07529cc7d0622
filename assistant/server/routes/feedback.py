"""POST /v1/feedback: thumbs up/down and/or a corrected answer on one assistant reply of the caller's site.

Stored by assistant.engine.reviews (corrections feed template suggestions and fine-tuning).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from assistant.engine.errors import ReviewError
from assistant.engine.privacy import redact
from assistant.server.auth import check_conversation
from assistant.server.deps import AssistantDep, JSONBody, SettingsDep
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.site_schemas import FeedbackOut, FeedbackRequest

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post("/feedback", response_model=FeedbackOut, dependencies=[JSONBody],
             responses={404: {"description": "No such conversation or assistant message for this site."}})
async def give_feedback(body: FeedbackRequest, caller: LimitedCallerDep, assistant: AssistantDep,
                        settings: SettingsDep) -> FeedbackOut:
    conversations = assistant.conversations
    check_conversation(conversations, caller, body.conversation_id)
    conv = conversations.get(body.conversation_id, caller.site.id)
    if not any(m.id == body.message_id and m.role == "assistant" for m in conv.messages):
        raise APIError(404, "message_not_found", "no assistant message with that id in this conversation")
    correction = redact(body.correction.strip(), settings.security) if body.correction else None
    try:
        saved = await asyncio.to_thread(conversations.record_feedback, body.conversation_id, body.message_id,
                                        body.rating, correction)
    except ReviewError as exc:
        raise APIError(400, "invalid_feedback", str(exc)) from exc
    # A second review of the same reply updates it; the answer shows what is stored now.
    return FeedbackOut(conversation_id=body.conversation_id, message_id=body.message_id, rating=saved.rating,
                       correction=saved.correction)
