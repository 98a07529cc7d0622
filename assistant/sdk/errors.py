"""Errors the SDK raises: one class per kind of failure, all carrying the API's error schema."""

from __future__ import annotations

from typing import Any

import httpx


class AssistantError(Exception):
    """Any error answer from the API: `status`, `code`, `message`, `details` and `retry_after` (seconds)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details, self.retry_after = (
            status, code, message, details, retry_after)


class AuthenticationError(AssistantError):
    """401: missing, wrong, revoked or expired credentials."""


class PermissionDenied(AssistantError):
    """403: the key may not do this, or the origin is not allowed."""


class NotFound(AssistantError):
    """404: no such conversation, message or document for this site."""


class InvalidRequest(AssistantError):
    """400, 413, 415, 422: the request was refused as it is; nothing was stored."""


class RateLimited(AssistantError):
    """429: rate limit or daily quota; `retry_after` says when to come back."""


class Unavailable(AssistantError):
    """503: the server is loading or overloaded; retried automatically by default."""


class ConnectionFailed(AssistantError):
    """The server could not be reached."""


def from_response(response: httpx.Response) -> AssistantError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code", "http_error") if isinstance(error, dict) else "http_error"
    message = error.get("message", response.reason_phrase) if isinstance(error, dict) else response.text[:200]
    details = error.get("details") if isinstance(error, dict) else None
    retry = response.headers.get("retry-after")
    retry_after = float(retry) if retry and retry.replace(".", "", 1).isdigit() else None
    status = response.status_code
    cls = {401: AuthenticationError, 403: PermissionDenied, 404: NotFound, 429: RateLimited,
           503: Unavailable}.get(status)
    if cls is None:
        cls = InvalidRequest if status in (400, 405, 409, 413, 415, 422) else AssistantError
    return cls(status, code, message, details, retry_after)
