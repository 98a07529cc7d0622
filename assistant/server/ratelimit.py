"""Rate limits per client IP, secret key and widget session (429 + Retry-After), and daily quotas per site.

Windows are moving windows from the `limits` library; its storage is in-process by default
(`memory://`) and can be shared by replicas with security.rate_limit_storage=redis://... .
A site may override the key and session rates, the daily quota and its message (see assistant.engine.sites;
`assistant sites create ... --daily-quota`, the admin API); the constants below are the defaults of a site
that sets none. Rates use the `limits` notation ("30/minute", "5/second;100/hour"); "" turns a limit off.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from assistant.engine import sites
from assistant.engine.security import SecurityConfig
from assistant.server.auth import CallerDep, Principal, SitesDep
from assistant.server.deps import StateDep
from assistant.server.errors import APIError
from assistant.server.state import AppState

IP_RATE = "300/minute"  # per client IP address: a busy office behind one NAT stays far below it
KEY_RATE = "600/minute"  # per secret API key (a site's back end)
SESSION_RATE = "30/minute"  # per widget session: one person typing sends a few messages a minute
# Polling for new messages (a handed-off widget asks once a second) is counted apart from the limits above, so
# it neither spends a customer's messages nor trips an office's shared IP.
POLL_RATE = "120/minute"  # per widget session: one poll a second fits twice over
IP_POLL_RATE = "1200/minute"  # per client IP address: ten open handed-off chats behind one NAT
DAILY_QUOTA = 0  # chat messages per site per UTC day; 0 = unlimited
QUOTA_MESSAGE = (
    "This support chat has reached its message limit for today. Please try again tomorrow, "
    "or contact us by e-mail."
)


@lru_cache(maxsize=64)
def _items(rate: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(rate))


class Limiter:
    """Checks a request against several (rate, identity) pairs; consumes from all of them or none."""

    def __init__(self, config: SecurityConfig) -> None:
        self.strategy = MovingWindowRateLimiter(storage_from_string(config.rate_limit_storage))

    def retry_after(self, checks: list[tuple[str | None, tuple[str, ...]]]) -> int | None:
        """None when every limit has room (and the request is counted), else whole seconds to wait."""
        pairs = [(item, ident) for rate, ident in checks if rate for item in _items(rate)]
        for item, ident in pairs:
            if not self.strategy.test(item, *ident):
                reset = self.strategy.get_window_stats(item, *ident).reset_time
                return max(1, math.ceil(reset - time.time()))
        for item, ident in pairs:
            self.strategy.hit(item, *ident)
        return None


def limiter_for(state: AppState) -> Limiter:
    limiter = state.extras.get("limiter")
    if limiter is None:
        limiter = state.extras["limiter"] = Limiter(state.settings.security)
    return limiter


def client_ip(request: Request) -> str:
    # Behind a proxy, run uvicorn with --proxy-headers so request.client is the real client.
    return request.client.host if request.client else "unknown"


def _refuse(wait: int) -> APIError:
    return APIError(429, "rate_limited", f"too many requests; retry in {wait} s", headers={"Retry-After": str(wait)})


def ip_limited(request: Request, state: StateDep) -> None:
    wait = limiter_for(state).retry_after([(IP_RATE, ("ip", client_ip(request)))])
    if wait:
        raise _refuse(wait)


def rate_limited(request: Request, principal: CallerDep, state: StateDep) -> Principal:
    checks: list[tuple[str | None, tuple[str, ...]]] = [(IP_RATE, ("ip", client_ip(request)))]
    if principal.kind == "secret":
        checks.append((principal.site.key_rate or KEY_RATE, ("key", principal.key_id or "")))
    elif principal.kind == "session":
        checks.append((principal.site.session_rate or SESSION_RATE, ("session", principal.session_id or "")))
    wait = limiter_for(state).retry_after(checks)
    if wait:
        raise _refuse(wait)
    return principal


def poll_limited(request: Request, principal: CallerDep, state: StateDep) -> Principal:
    """For GET .../messages: the polling limits (per session or key, and per IP), in buckets of their own."""
    checks: list[tuple[str | None, tuple[str, ...]]] = [(IP_POLL_RATE, ("poll-ip", client_ip(request)))]
    if principal.kind == "secret":
        checks.append((principal.site.key_rate or KEY_RATE, ("poll-key", principal.key_id or "")))
    elif principal.kind == "session":
        checks.append((POLL_RATE, ("poll-session", principal.session_id or "")))
    wait = limiter_for(state).retry_after(checks)
    if wait:
        raise _refuse(wait)
    return principal


def within_quota(principal: Annotated[Principal, Depends(rate_limited)], directory: SitesDep) -> Principal:
    """For chat turns: refuse once the site has used its daily message quota (429 with the site's message)."""
    site: Any = principal.site
    quota = site.daily_quota if site.daily_quota is not None else DAILY_QUOTA
    if quota and directory.messages_today(site.id) >= quota:
        wait = sites.seconds_until_midnight()
        raise APIError(429, "quota_exceeded", site.quota_message or QUOTA_MESSAGE,
                       details={"daily_quota": quota}, headers={"Retry-After": str(wait)})
    return principal


LimitedCallerDep = Annotated[Principal, Depends(rate_limited)]
PollingCallerDep = Annotated[Principal, Depends(poll_limited)]
QuotaCallerDep = Annotated[Principal, Depends(within_quota)]
IPLimited = Depends(ip_limited)
