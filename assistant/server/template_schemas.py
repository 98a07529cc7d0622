"""Request and response bodies of the templates API (routes/templates.py): a site's templates with their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TemplateIn(BaseModel):
    """A template as it should answer from the next turn on (the whole template: unset lists are empty)."""

    model_config = ConfigDict(extra="forbid")
    intent: str = Field(max_length=128, description="The intent it answers.", examples=["opening_hours"])
    text: str = Field(max_length=4000, description="The reply; {slot} placeholders as in a templates file.",
                      examples=["{company} is open every day from 09:00 to 18:00."])
    sources: list[str] = Field(default_factory=list, max_length=20,
                               description="Pages of the site's knowledge base that back it (doc ids).")
    requires: list[str] = Field(default_factory=list, max_length=5,
                                description="Slots the message must contain (order_id, email).")
    threshold: float | None = Field(None, ge=0, le=1, description="How confident the intent must be (its intent's "
                                                                  "threshold; unset: unchanged).")


class RevertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="The version whose content comes back (0: the templates file's).")


class VersionOut(BaseModel):
    version: int
    action: Literal["add", "edit", "retire", "revert"]
    state: Literal["set", "retired", "file"] = Field(description="set: its own text; retired; file: the file's.")
    intent: str | None
    text: str | None
    sources: list[str]
    requires: list[str]
    threshold: float | None
    restores: int | None = Field(description="The version a revert brought back.")
    actor: str = Field(description="Who: key:<id>, an operator's name, or local.")
    at: datetime


class TemplateOut(BaseModel):
    id: str
    intent: str
    text: str
    sources: list[str]
    requires: list[str]
    threshold: float
    status: Literal["file", "edited", "added", "retired"]
    version: int = Field(description="Its newest version (0: as in the templates file, never edited).")
    versions: list[VersionOut] = Field(description="Oldest first.")


class TemplatesOut(BaseModel):
    templates: list[TemplateOut]
