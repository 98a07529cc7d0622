"""Request and response bodies of the unanswered-questions API (routes/unanswered.py).

Kept apart from the route, which imports the engine, so the SDK can re-export them without it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
