"""Admin API (X-Admin-Key): create, list, read, change and delete sites; issue, list and revoke their secret keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Path, Query, Response

from assistant.engine import sites
from assistant.engine.errors import KeyNotFound, SiteBusy, SiteError, SiteExists, SiteNotFound
from assistant.engine.opening_hours import OpeningHoursError
from assistant.engine.webhooks import WebhookURLError
from assistant.server.auth import AdminDep, SitesDep
from assistant.server.deps import AssistantDep, JSONBody, StateDep
from assistant.server.errors import APIError
from assistant.server.origins import forget_origins
from assistant.server.site_schemas import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    SiteCreate,
    SiteDeleted,
    SiteOut,
    SiteUpdate,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminDep])
SiteId = Path(max_length=64, description="Site id.")


@contextmanager
def site_errors() -> Iterator[None]:
    """Engine errors about sites become the API's one error schema."""
    try:
        yield
    except WebhookURLError as exc:  # a bad URL or opening hours in the request itself: site errors that are a 400
        raise APIError(400, "invalid_webhook_url", str(exc)) from exc
    except OpeningHoursError as exc:
        raise APIError(400, "invalid_opening_hours", str(exc)) from exc
    except SiteError as exc:
        raise APIError(422, "invalid_site", str(exc)) from exc
    except SiteExists as exc:
        raise APIError(409, "site_exists", str(exc)) from exc
    except SiteBusy as exc:
        raise APIError(409, "site_busy", str(exc)) from exc
    except SiteNotFound as exc:
        raise APIError(404, "site_not_found", f"no site with id {exc.args[0]!r}") from exc
    except KeyNotFound as exc:
        raise APIError(404, "key_not_found", f"no key with id {exc.args[0]!r} for this site") from exc


def site_out(site: sites.Site) -> SiteOut:
    return SiteOut.model_validate(site, from_attributes=True)


def changes(body: SiteCreate | SiteUpdate) -> dict:
    data = body.model_dump(exclude_unset=True, exclude={"id"})
    if "name" in data and not (data["name"] or "").strip():
        # an explicit null/blank name would violate NOT NULL in the store: a 422, not a 500
        raise APIError(422, "invalid_request", "a site's name cannot be empty")
    if "widget" in data:
        data["widget"] = {k: v for k, v in (data["widget"] or {}).items() if v is not None}
    return data


@router.post("/sites", status_code=201, response_model=SiteOut, dependencies=[JSONBody])
def create_site(body: SiteCreate, directory: SitesDep, state: StateDep) -> SiteOut:
    data = changes(body)
    origins = data.pop("allowed_origins", None) or []
    name = data.pop("name")
    namespace = data.pop("namespace", None)
    with site_errors():
        site = directory.create(body.id, name, origins=origins, namespace=namespace, **data)
    forget_origins(state)
    return site_out(site)


@router.get("/sites", response_model=list[SiteOut])
def list_sites(directory: SitesDep) -> list[SiteOut]:
    return [site_out(s) for s in directory.all_sites()]


@router.get("/sites/{site_id}", response_model=SiteOut)
def get_site(directory: SitesDep, site_id: str = SiteId) -> SiteOut:
    with site_errors():
        return site_out(directory.get(site_id))


@router.patch("/sites/{site_id}", response_model=SiteOut, dependencies=[JSONBody])
def update_site(body: SiteUpdate, directory: SitesDep, state: StateDep, site_id: str = SiteId) -> SiteOut:
    with site_errors():
        site = directory.update(site_id, **changes(body))
    forget_origins(state)
    return site_out(site)


@router.delete("/sites/{site_id}", response_model=SiteDeleted,
               responses={409: {"description": "The default site, or open handoffs without force=true."}})
def delete_site(assistant: AssistantDep, state: StateDep, site_id: str = SiteId,
                force: bool = Query(False, description="Delete even while a person may be answering a handoff.")
                ) -> SiteDeleted:
    """Delete the site with its conversations, keys, alerts and knowledge-base documents (irreversible)."""
    with site_errors():
        deleted = assistant.delete_site(site_id, force=force)
    forget_origins(state)
    return SiteDeleted.model_validate(deleted, from_attributes=True)


@router.post("/sites/{site_id}/keys", status_code=201, response_model=KeyCreated, dependencies=[JSONBody])
def issue_key(body: KeyCreate, directory: SitesDep, site_id: str = SiteId) -> KeyCreated:
    with site_errors():
        key, plaintext = directory.issue_key(site_id, body.name)
    return KeyCreated(**KeyOut.model_validate(key, from_attributes=True).model_dump(), key=plaintext)


@router.get("/sites/{site_id}/keys", response_model=list[KeyOut])
def list_keys(directory: SitesDep, site_id: str = SiteId) -> list[KeyOut]:
    with site_errors():
        return [KeyOut.model_validate(k, from_attributes=True) for k in directory.list_keys(site_id)]


@router.delete("/sites/{site_id}/keys/{key_id}", status_code=204, response_class=Response)
def revoke_key(directory: SitesDep, site_id: str = SiteId, key_id: str = Path(max_length=32)) -> Response:
    with site_errors():
        directory.revoke_key(key_id, site_id)
    return Response(status_code=204)
