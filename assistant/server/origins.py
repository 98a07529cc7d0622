"""Strict CORS from the sites' origin allowlists, and `frame-ancestors` on HTML pages.

Deny by default: a cross-origin call to /v1/* is answered only when its Origin is on some site's
allowlist (`assistant sites origins SITE --add ...`); otherwise preflights and calls get a 403 JSON error, so a
page on a foreign origin can neither read answers nor spend a site's quota. Which site an
allowed origin may act for is checked per request (widget session tokens carry their origin).
Same-origin pages (/demo, /ui) need no allowance.

One exception, so that a widget copied onto a page that may not embed it can say so instead of "could not
connect": the widget's session endpoint answers a foreign origin's preflight and lets that page read its 403
`origin_not_allowed`. The request itself is still refused here, before any route runs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.engine import sites
from assistant.server.auth import ensure_sites
from assistant.server.state import AppState

_TTL_S = 5.0
ALLOW_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, X-API-Key, Last-Event-ID"
EXPOSE_HEADERS = "Retry-After, Content-Type"
SESSION_PATH = "/v1/widget/session"  # where a refused page may read its refusal


def allowed_origins(state: AppState) -> set[str]:
    """All sites' origins, re-read from the database every few seconds."""
    cached = state.extras.get("origins")
    now = time.monotonic()
    if cached is not None and now - cached[0] < _TTL_S:
        return cached[1]
    directory = getattr(state.assistant, "sites", None) if state.ready else None
    value = ensure_sites(state, directory).all_origins() if directory is not None else set()
    state.extras["origins"] = (now, value)
    return value


def forget_origins(state: AppState) -> None:
    """Call after changing a site's origins so the next request sees them."""
    state.extras.pop("origins", None)


class SiteOrigins:
    """ASGI middleware: CORS for allowed origins on /v1/*, 403 for others; security headers everywhere."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app, self.state = app, state

    def _allowed(self, origin: str, scope: Scope, headers: Headers) -> bool:
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        origin = origin.rstrip("/").lower()
        return origin == own or sites.origin_allowed(allowed_origins(self.state), origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        api = scope["path"].startswith("/v1/")
        allowed = bool(origin) and api and self._allowed(origin or "", scope, headers)
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        readable = scope["path"] == SESSION_PATH  # the refusal is shown to the visitor (see the docstring)
        if api and origin and not allowed:
            if preflight and readable:
                await _preflight(send, origin, "POST, OPTIONS", "Content-Type")
            else:
                await _deny(send, origin, readable)
            return
        if allowed and preflight:
            await _preflight(send, origin or "")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.setdefault("X-Content-Type-Options", "nosniff")
                out.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                if out.get("content-type", "").startswith("text/html"):
                    ancestors = " ".join(["'self'", *sorted(allowed_origins(self.state))])
                    out.setdefault("Content-Security-Policy", f"frame-ancestors {ancestors}")
                if allowed:
                    out["Access-Control-Allow-Origin"] = origin or ""
                    out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
                    out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _preflight(send: Send, origin: str, methods: str = ALLOW_METHODS, allow: str = ALLOW_HEADERS) -> None:
    headers = [
        (b"access-control-allow-origin", origin.encode()),
        (b"access-control-allow-methods", methods.encode()),
        (b"access-control-allow-headers", allow.encode()),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _deny(send: Send, origin: str, readable: bool = False) -> None:
    body: Any = {"error": {"code": "origin_not_allowed",
                           "message": f"origin {origin[:200]} is not on any site's allowlist"}}
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
               (b"vary", b"Origin")]
    if readable:
        headers.append((b"access-control-allow-origin", origin.encode()))
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
