"""The caller's site's intents (secret key): list them with the version history, an intent's examples, add or
remove an example, retire an intent, revert to an earlier version, retrain the site's model. Every change and
retrain is a new version and an audit entry under the key (Assistant.intents, intent_versions.py); edits classify
from the site's next turn after a retrain. A change that cannot be made (empty text, a bad intent name, an example
already there, an intent or example the site lacks, no such version) is a 422 and stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from assistant.engine.errors import RetrainRefused, ReviewError
from assistant.engine.intent_versions import IntentEditError, IntentOverview
from assistant.server.auth import Principal, SecretCallerDep
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.ratelimit import rate_limited

router = APIRouter(prefix="/v1/intents", tags=["intents"], dependencies=[Depends(rate_limited)])
IntentName = Path(max_length=64, description="Intent name, e.g. gift_wrapping.")


class ExampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=8000, description="A customer message of the intent.",
                      examples=["can you gift wrap my order"])


class IntentsRevertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="The version whose examples come back (0: the site's intents file's).")


class IntentOut(BaseModel):
    intent: str
    examples: int = Field(description="How many examples it has now.")
    base: int = Field(description="How many the site's intents file gives it.")
    status: Literal["base", "edited", "added", "retired"]


class IntentVersionOut(BaseModel):
    version: int
    action: Literal["add", "remove", "retire", "revert", "retrain"]
    intent: str | None
    text: str | None
    restores: int | None = Field(description="The version a revert brought back.")
    actor: str = Field(description="Who: key:<id>, an operator's name, or local.")
    at: datetime


class IntentsOut(BaseModel):
    site_id: str
    version: int = Field(description="The newest version (0: as in the intents file).")
    trained: int | None = Field(description="The version the site's model was last retrained on.")
    pending: bool = Field(description="Changes since the last retrain (they classify once retrained).")
    intents: list[IntentOut]
    versions: list[IntentVersionOut] = Field(description="Oldest first.")


class ExamplesOut(BaseModel):
    intent: str
    examples: list[str]


class RetrainOut(BaseModel):
    examples: int
    operator_examples: int = Field(description="Examples added by edits (not in the intents file).")
    intents: int
    seconds: float


@contextmanager
def intent_errors() -> Iterator[None]:
    try:
        yield
    except IntentEditError as exc:
        raise APIError(422, "invalid_intent_change", str(exc)) from exc
    except RetrainRefused as exc:
        raise APIError(422, "retrain_refused", str(exc)) from exc
    except ReviewError as exc:  # another retrain is running
        raise APIError(409, "retrain_running", str(exc)) from exc


def _actor(caller: Principal) -> str:
    return f"key:{caller.key_id}" if caller.key_id else "local"


def _out(overview: IntentOverview) -> IntentsOut:
    return IntentsOut(site_id=overview.site_id, version=overview.version, trained=overview.trained,
                      pending=overview.pending, intents=[IntentOut.model_validate(asdict(i)) for i in overview.intents],
                      versions=[IntentVersionOut.model_validate(asdict(v)) for v in overview.versions])


@router.get("", response_model=IntentsOut)
async def list_intents(caller: SecretCallerDep, assistant: AssistantDep) -> IntentsOut:
    """The site's intents (with how many examples each), its version history and its last retrain."""
    with intent_errors():
        return _out(await asyncio.to_thread(assistant.intents.overview, caller.site.id))


@router.get("/{intent}", response_model=ExamplesOut)
async def intent_examples(caller: SecretCallerDep, assistant: AssistantDep, intent: str = IntentName) -> ExamplesOut:
    """The intent's example messages now."""
    rows = await asyncio.to_thread(assistant.intents.examples, caller.site.id, intent)
    return ExamplesOut(intent=intent, examples=[text for text, _ in rows])


@router.post("/{intent}/examples", response_model=IntentsOut, dependencies=[JSONBody])
async def add_example(body: ExampleIn, caller: SecretCallerDep, assistant: AssistantDep,
                      intent: str = IntentName) -> IntentsOut:
    """Add an example (a new intent's first one too): a new version."""
    with intent_errors():
        return _out(await asyncio.to_thread(lambda: assistant.intents.add(
            caller.site.id, intent, body.text, actor=_actor(caller))))


@router.delete("/{intent}/examples", response_model=IntentsOut, dependencies=[JSONBody])
async def remove_example(body: ExampleIn, caller: SecretCallerDep, assistant: AssistantDep,
                         intent: str = IntentName) -> IntentsOut:
    """Remove one example of the intent: a new version."""
    with intent_errors():
        return _out(await asyncio.to_thread(lambda: assistant.intents.remove(
            caller.site.id, intent, body.text, actor=_actor(caller))))


@router.delete("/{intent}", response_model=IntentsOut)
async def retire_intent(caller: SecretCallerDep, assistant: AssistantDep, intent: str = IntentName) -> IntentsOut:
    """Retire the intent with all its examples: a new version; a revert brings them back."""
    with intent_errors():
        return _out(await asyncio.to_thread(lambda: assistant.intents.retire(
            caller.site.id, intent, actor=_actor(caller))))


@router.post("/revert", response_model=IntentsOut, dependencies=[JSONBody])
async def revert_intents(body: IntentsRevertIn, caller: SecretCallerDep, assistant: AssistantDep) -> IntentsOut:
    """A new version with an earlier version's examples (0: the intents file's)."""
    with intent_errors():
        return _out(await asyncio.to_thread(lambda: assistant.intents.revert(
            caller.site.id, body.version, actor=_actor(caller))))


@router.post("/retrain", response_model=RetrainOut)
async def retrain_intents(caller: SecretCallerDep, assistant: AssistantDep) -> RetrainOut:
    """Train the site's model on its examples now (seconds to minutes); its next turns use it."""
    with intent_errors():
        report = await asyncio.to_thread(lambda: assistant.intents.retrain(caller.site.id, actor=_actor(caller)))
    return RetrainOut(examples=report.examples, operator_examples=report.operator_examples, intents=report.intents,
                      seconds=report.seconds)
