"""The caller's own site (secret key): read it, and change its name, widget look, origins, quota message and what the
assistant says in its name (company, greeting, system prompt, handoff and abstain messages, opening hours)."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.engine.audit import AuditedSites
from assistant.engine.sites import SiteDirectory
from assistant.server.auth import Principal, SitesDep
from assistant.server.deps import JSONBody, StateDep
from assistant.server.errors import APIError
from assistant.server.origins import forget_origins
from assistant.server.ratelimit import LimitedCallerDep
from assistant.server.routes.admin import changes, site_errors, site_out
from assistant.server.site_schemas import PROFILE_FIELDS, SiteOut, SiteUpdate

router = APIRouter(prefix="/v1", tags=["sites"])

# Rates, quotas, namespace and adapter stay with the admin: a leaked site key must not lift its own limits; so do
# the templates and intents files, paths on the server. What the assistant says in the site's name is the site's.
OWN_FIELDS = {"name", "allowed_origins", "widget", "quota_message", "opening_hours", *PROFILE_FIELDS}


def _as_caller(directory: SiteDirectory, caller: Principal) -> SiteDirectory:
    """The sites with this change audited under the key that made it, not as the admin's."""
    actor = f"key:{caller.key_id}" if caller.key_id else caller.kind
    return directory.as_actor(actor) if isinstance(directory, AuditedSites) else directory


def _not_widget(caller: Principal) -> None:
    if caller.is_session:
        raise APIError(403, "forbidden", "a widget session cannot read or change site settings")


@router.get("/site", response_model=SiteOut)
def get_own_site(caller: LimitedCallerDep, directory: SitesDep) -> SiteOut:
    _not_widget(caller)
    with site_errors():
        return site_out(directory.get(caller.site.id))


@router.patch("/site", response_model=SiteOut, dependencies=[JSONBody])
def update_own_site(body: SiteUpdate, caller: LimitedCallerDep, directory: SitesDep, state: StateDep) -> SiteOut:
    _not_widget(caller)
    data = changes(body)
    if set(data) - OWN_FIELDS:
        raise APIError(403, "forbidden", f"only the admin API may change {sorted(set(data) - OWN_FIELDS)}")
    with site_errors():
        site = _as_caller(directory, caller).update(caller.site.id, **data)
    forget_origins(state)
    return site_out(site)
