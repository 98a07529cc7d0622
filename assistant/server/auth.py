"""Who is calling: a secret site key, a widget session token, the admin key, or (dev only) nobody.

    Authorization: Bearer sk_...        server-to-server / SDK: full access to that site's data
    Authorization: Bearer <token>       widget session from POST /v1/widget/session (public key + allowed Origin)
    X-Admin-Key: ...                    /v1/admin/* (settings.security.admin_key)

With security.require_keys=false (local default) a call without credentials acts as the
'default' site; credentials that are sent are always checked, so a wrong key is a 401 there too.
The OpenAI-compatible routes are the exception: an OpenAI client always sends some key, so there any key
that is not one of this server's (`sk_...`) acts as the 'default' site too, as vLLM and Ollama accept any.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from assistant.engine import sites
from assistant.engine.conversations import Conversations
from assistant.engine.errors import SiteNotFound
from assistant.engine.settings import Settings
from assistant.server.deps import AssistantDep, SettingsDep, StateDep
from assistant.server.errors import APIError
from assistant.server.state import AppState

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^ws_[A-Za-z0-9_-]{16,64}$")
_SALT = "widget-session-v1"
_SETUP_LOCK = threading.Lock()
TOKEN_TTL_SECONDS = 900  # lifetime of a widget session token; the widget asks for a new one shortly before


@dataclass(frozen=True)
class Principal:
    """The authenticated caller and the site it acts for."""

    site: sites.Site
    kind: Literal["secret", "session", "anonymous"]
    key_id: str | None = None
    session_id: str | None = None
    origin: str | None = None

    @property
    def is_session(self) -> bool:
        return self.kind == "session"


def ensure_sites(state: AppState, directory: sites.SiteDirectory) -> sites.SiteDirectory:
    """The assistant's sites, with the site tables and the default site in place (once per process)."""
    if state.extras.get("sites_ready") is directory:
        return directory
    with _SETUP_LOCK:
        if state.extras.get("sites_ready") is directory:
            return directory
        site = directory.ensure_default()  # its origins: `assistant sites origins default --add ...`
        state.extras["sites_ready"] = directory
        if not state.settings.security.require_keys:
            log.warning(
                "security.require_keys=false: calls without a key act as site 'default' with full access. "
                "Set ASSISTANT_SECURITY__REQUIRE_KEYS=true in deployment. Default site public key: %s",
                site.public_key,
            )
    return directory


def get_sites(state: StateDep, assistant: AssistantDep) -> sites.SiteDirectory:
    return ensure_sites(state, assistant.sites)


SitesDep = Annotated[sites.SiteDirectory, Depends(get_sites)]


def _serializer(state: AppState) -> URLSafeTimedSerializer:
    secret = state.settings.security.token_secret.get_secret_value()
    if not secret:
        # A per-process secret: safe, but tokens die with a restart and differ between replicas.
        secret = state.extras.setdefault("token_secret", secrets.token_urlsafe(32))
    return URLSafeTimedSerializer(secret, salt=_SALT)


def issue_session_token(state: AppState, site_id: str, session_id: str, origin: str) -> str:
    return _serializer(state).dumps({"site": site_id, "sid": session_id, "origin": origin})


def new_session_id() -> str:
    return "ws_" + secrets.token_urlsafe(18)


def bearer(request: Request) -> str | None:
    """The credential from `Authorization: Bearer X` or `X-API-Key: X`, if any."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise APIError(401, "invalid_credentials", "use 'Authorization: Bearer <key or session token>'")
        return value.strip()
    return request.headers.get("x-api-key") or None


def request_origin(request: Request) -> str | None:
    return request.headers.get("origin") or None


def self_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}".lower()


def _from_session_token(state: AppState, directory: sites.SiteDirectory, token: str, request: Request) -> Principal:
    try:
        data = _serializer(state).loads(token, max_age=TOKEN_TTL_SECONDS)
    except SignatureExpired as exc:
        raise APIError(401, "session_expired", "the widget session expired; request a new one") from exc
    except BadSignature as exc:
        raise APIError(401, "invalid_credentials", "unknown API key or session token") from exc
    origin = request_origin(request)
    if origin is not None and origin.lower().rstrip("/") != data["origin"]:
        raise APIError(403, "origin_not_allowed", "this session token belongs to another origin")
    try:
        site = directory.get(data["site"])
    except SiteNotFound as exc:
        raise APIError(401, "invalid_credentials", "the session's site no longer exists") from exc
    return Principal(site=site, kind="session", session_id=data["sid"], origin=data["origin"])


def authenticate(request: Request, state: StateDep, directory: SitesDep) -> Principal:
    credential = bearer(request)
    settings: Settings = state.settings
    if credential is None:
        if settings.security.require_keys:
            raise APIError(401, "missing_credentials",
                           "send a secret key ('Authorization: Bearer sk_...') or a widget session token",
                           headers={"WWW-Authenticate": "Bearer"})
        return Principal(site=directory.get(sites.DEFAULT_SITE), kind="anonymous")
    if credential.startswith("sk_"):
        # A key in this server's format is always checked, even where any other key is taken: an unknown or
        # revoked site key acting as the default site would hide a mistake (or a revocation).
        found = directory.verify_key(credential)
        if found is None:
            raise APIError(401, "invalid_credentials", "unknown or revoked API key",
                           headers={"WWW-Authenticate": "Bearer"})
        site, key = found
        return Principal(site=site, kind="secret", key_id=key.id)
    try:
        return _from_session_token(state, directory, credential, request)
    except APIError as exc:
        if exc.status == 401 and not settings.security.require_keys and _any_key_route(request):
            return Principal(site=directory.get(sites.DEFAULT_SITE), kind="anonymous")
        raise


def _any_key_route(request: Request) -> bool:
    """Whether the matched route takes any key when keys are not required (the OpenAI-compatible ones)."""
    return bool(getattr(request.scope.get("route"), "accepts_any_key", False))


def require_secret(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """Routes a public widget must not reach (listing, knowledge base, agent actions)."""
    if principal.is_session:
        raise APIError(403, "forbidden", "a widget session cannot do this; use a secret API key")
    return principal


def require_admin(request: Request, settings: SettingsDep) -> None:
    expected = settings.security.admin_key.get_secret_value()
    if not expected:
        raise APIError(403, "admin_disabled", "the admin API is off; set ASSISTANT_SECURITY__ADMIN_KEY to enable it")
    given = request.headers.get("x-admin-key")
    if given is None:
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    if not given:
        raise APIError(401, "missing_credentials", "send the admin key in the X-Admin-Key header")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise APIError(401, "invalid_credentials", "wrong admin key")


def check_conversation(conversations: Conversations, principal: Principal, conversation_id: str) -> None:
    """404 (ConversationNotFound) unless the conversation belongs to the caller's site (and, for a widget,
    to its session)."""
    session = (principal.session_id or "") if principal.is_session else None
    conversations.check_access(conversation_id, principal.site.id, session)


def link_session(conversations: Conversations, principal: Principal, conversation_id: str) -> None:
    """A widget session may open the conversations it started: record that it started this one."""
    if principal.is_session:
        conversations.link_session(conversation_id, principal.site.id, principal.session_id or "")


CallerDep = Annotated[Principal, Depends(authenticate)]
SecretCallerDep = Annotated[Principal, Depends(require_secret)]
AdminDep = Depends(require_admin)
