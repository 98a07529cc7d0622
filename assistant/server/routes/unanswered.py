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
from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from assistant.engine.errors import MessageNotFound, RetrievalError
from assistant.engine.unanswered import CuratedAnswer, UnansweredGroup
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.routes.handoff import agent_only

router = APIRouter(prefix="/v1", tags=["unanswered"])


class UnansweredGroupOut(BaseModel):
    id: str = Field(description="The group's earliest reply id (stable while that question stays unanswered).")
    question: str = Field(description="The group's most typical wording.")
    count: int
    last_seen: datetime
    examples: list[str] = Field(description="Distinct wordings, newest first (at most 5).")
    question_ids: list[str] = Field(description="The replies' message ids: send them back with an answer.")
    reasons: dict[str, int] = Field(description="How many by reason: abstain, handoff, thumbs_down.")


class UnansweredOut(BaseModel):
    site_id: str
    groups: list[UnansweredGroupOut]


class UnansweredAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question as customers ask it (at most 500 characters); may be edited.",
                          examples=["Do you ship to Iceland?"])
    answer: str = Field(description="The answer customers get from now on (at most 1000 characters).",
                        examples=["Yes: parcels to Iceland arrive in 5 to 8 working days."])
    question_ids: list[str] = Field(description="The group's question_ids: they are marked answered.",
                                    min_length=1, max_length=5000)
    author: str | None = Field(None, max_length=100, description="Who wrote it (audited); default: the key.")


class UnansweredAnswerOut(BaseModel):
    site_id: str
    namespace: str
    doc_id: str = Field(description="The FAQ entry's document id in the site's namespace.")
    question: str
    answer: str
    answers: int = Field(description="How many customer questions it answers.")


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
