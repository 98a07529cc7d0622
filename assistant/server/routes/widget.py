"""POST /v1/widget/session: the widget trades its site's public key for a short-lived session token.

Deny by default: the request's Origin must be on the site's allowlist (or be this server's
own origin, as for /demo). The token is bound to that origin and to a session id that the
browser keeps, so a visitor can reopen only the conversations that session started.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from assistant.engine import sites
from assistant.server import auth
from assistant.server.auth import (
    SESSION_ID,
    SitesDep,
    issue_session_token,
    new_session_id,
    request_origin,
    self_origin,
)
from assistant.server.deps import JSONBody, StateDep
from assistant.server.errors import APIError
from assistant.server.ratelimit import IPLimited
from assistant.server.site_schemas import WidgetSessionOut, WidgetSessionRequest

router = APIRouter(prefix="/v1/widget", tags=["widget"])


@router.post("/session", response_model=WidgetSessionOut, dependencies=[JSONBody, IPLimited],
             responses={403: {"description": "Origin missing or not on the site's allowlist."}})
def create_session(body: WidgetSessionRequest, request: Request, state: StateDep,
                   directory: SitesDep) -> WidgetSessionOut:
    site = directory.by_public_key(body.site_key)
    if site is None:
        raise APIError(401, "invalid_site_key", "unknown site key")
    origin = request_origin(request)
    if origin is None:
        raise APIError(403, "origin_required", "widget sessions are only for web pages (no Origin header)")
    origin = origin.rstrip("/").lower()
    if origin != self_origin(request) and not sites.origin_allowed(site.allowed_origins, origin):
        raise APIError(403, "origin_not_allowed", f"{origin[:200]} may not embed this site's widget")
    session_id = body.session_id if body.session_id and SESSION_ID.match(body.session_id) else new_session_id()
    return WidgetSessionOut(
        token=issue_session_token(state, site.id, session_id, origin), session_id=session_id,
        expires_in=auth.TOKEN_TTL_SECONDS, site_id=site.id, site_name=site.name,
        widget=site.widget or {},
    )
