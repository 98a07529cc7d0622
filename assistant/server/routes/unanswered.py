"""What the site's assistant could not answer, grouped by meaning, and answering a group (secret key).

    GET  /v1/unanswered                 abstentions, handoffs for lack of an answer and thumbs-down, grouped
    POST /v1/unanswered/answer          {"question", "answer", "question_ids", "author"}: an FAQ entry of the site

The answer is added to the caller's site's knowledge-base namespace as an FAQ entry (Assistant.unanswered): from
the next turn on, that question is answered with its text (route "faq", cited), on that site only; its group is
no longer listed. Errors, in the API's one JSON shape: 400 empty or over-long question or answer (nothing
stored), 404 a question id that is not one of this site's unanswered questions, 403 a widget session.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query

from assistant.engine.errors import MessageNotFound, RetrievalError
from assistant.engine.unanswered import CuratedAnswer, UnansweredGroup
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.routes.handoff import agent_only
from assistant.server.unanswered_schemas import (
    UnansweredAnswerIn,
    UnansweredAnswerOut,
    UnansweredGroupOut,
    UnansweredOut,
)

router = APIRouter(prefix="/v1", tags=["unanswered"])


def group_out(group: UnansweredGroup) -> UnansweredGroupOut:
    return UnansweredGroupOut.model_validate(group, from_attributes=True)


@router.get("/unanswered", response_model=UnansweredOut)
async def unanswered(caller: LimitedCallerDep, assistant: AssistantDep,
                     limit: int = Query(50, ge=1, le=500, description="Groups to return, biggest first.")
                     ) -> UnansweredOut:
    """The site's unanswered questions grouped by meaning, biggest group (then latest) first."""
    agent_only(caller)
    groups = await asyncio.to_thread(assistant.unanswered.groups, caller.site.id)
    return UnansweredOut(site_id=caller.site.id, groups=[group_out(g) for g in groups[:limit]])


@router.post("/unanswered/answer", response_model=UnansweredAnswerOut, status_code=201, dependencies=[JSONBody],
             responses={400: {"description": "Empty or over-long question or answer; nothing stored."},
                        404: {"description": "A question id that is not one of this site's unanswered questions."}})
async def answer(body: UnansweredAnswerIn, caller: LimitedCallerDep, assistant: AssistantDep) -> UnansweredAnswerOut:
    """Answer a group: the question and answer become an FAQ entry of the site, used from the next turn on."""
    agent_only(caller)
    actor = (body.author or "").strip() or (f"key:{caller.key_id}" if caller.key_id else caller.kind)
    try:
        saved: CuratedAnswer = await asyncio.to_thread(assistant.unanswered.answer, caller.site.id, body.question,
                                                       body.answer, body.question_ids, actor=actor)
    except MessageNotFound as exc:
        raise APIError(404, "question_not_found", str(exc)) from exc
    except RetrievalError as exc:
        raise APIError(400, "invalid_entry", str(exc)) from exc
    return UnansweredAnswerOut.model_validate(saved, from_attributes=True)
