"""The caller's site's templates (secret key): list them with their versions, add or edit one, retire one, revert
one to an earlier version. Every change is a new version and an audit entry under the key (Assistant.templates,
template_versions.py); it answers from the site's next turn. A change that would not pass a templates file's
checks (unknown slot, empty text, a source page the site's knowledge base lacks) is a 422 and stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

from fastapi import APIRouter, Depends, Path

from assistant.engine.errors import TemplateError
from assistant.engine.template_versions import SiteTemplate, TemplateNotFound
from assistant.server.auth import Principal, SecretCallerDep
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.ratelimit import rate_limited
from assistant.server.template_schemas import RevertIn, TemplateIn, TemplateOut, TemplatesOut

router = APIRouter(prefix="/v1/templates", tags=["templates"], dependencies=[Depends(rate_limited)])
TemplateId = Path(max_length=128, description="Template id, e.g. track_order.default.")


@contextmanager
def template_errors() -> Iterator[None]:
    try:
        yield
    except TemplateError as exc:
        raise APIError(422, "invalid_template", str(exc)) from exc
    except TemplateNotFound as exc:
        raise APIError(404, "template_not_found", str(exc)) from exc


def _actor(caller: Principal) -> str:
    return f"key:{caller.key_id}" if caller.key_id else "local"


def _out(item: SiteTemplate) -> TemplateOut:
    return TemplateOut.model_validate(asdict(item))


@router.get("", response_model=TemplatesOut)
async def list_templates(caller: SecretCallerDep, assistant: AssistantDep) -> TemplatesOut:
    """Every template of the site (its file's, edited, added and retired), each with its versions."""
    items = await asyncio.to_thread(assistant.templates.list, caller.site.id)
    return TemplatesOut(templates=[_out(i) for i in items])


@router.get("/{template_id}", response_model=TemplateOut)
async def get_template(caller: SecretCallerDep, assistant: AssistantDep,
                       template_id: str = TemplateId) -> TemplateOut:
    with template_errors():
        return _out(await asyncio.to_thread(assistant.templates.get, caller.site.id, template_id))


@router.put("/{template_id}", response_model=TemplateOut, dependencies=[JSONBody])
async def save_template(body: TemplateIn, caller: SecretCallerDep, assistant: AssistantDep,
                        template_id: str = TemplateId) -> TemplateOut:
    """Add the template, or edit it (its file's text included): a new version, used from the next turn on."""
    with template_errors():
        item = await asyncio.to_thread(lambda: assistant.templates.save(
            caller.site.id, template_id, intent=body.intent, text=body.text, sources=body.sources,
            requires=body.requires, threshold=body.threshold, actor=_actor(caller)))
    return _out(item)


@router.delete("/{template_id}", response_model=TemplateOut)
async def retire_template(caller: SecretCallerDep, assistant: AssistantDep,
                          template_id: str = TemplateId) -> TemplateOut:
    """Retire it: it no longer answers; its versions stay and a revert brings it back."""
    with template_errors():
        return _out(await asyncio.to_thread(lambda: assistant.templates.retire(
            caller.site.id, template_id, actor=_actor(caller))))


@router.post("/{template_id}/revert", response_model=TemplateOut, dependencies=[JSONBody])
async def revert_template(body: RevertIn, caller: SecretCallerDep, assistant: AssistantDep,
                          template_id: str = TemplateId) -> TemplateOut:
    """A new version with an earlier version's content (0: the templates file's), checked like an edit."""
    with template_errors():
        return _out(await asyncio.to_thread(lambda: assistant.templates.revert(
            caller.site.id, template_id, body.version, actor=_actor(caller))))
