"""Python SDK: sync and async clients for the REST API (httpx), typed responses and stream events.

    from assistant.sdk import Client
    client = Client("http://127.0.0.1:8000", api_key="sk_...")
    print(client.chat("How long do refunds take?").answer)

Errors are subclasses of AssistantError (AuthenticationError, NotFound, RateLimited, ...);
429 and 503 are retried with backoff (RetryPolicy) before they are raised.
"""

from assistant.sdk.async_client import AsyncClient
from assistant.sdk.client import Client
from assistant.sdk.errors import (
    AssistantError,
    AuthenticationError,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from assistant.sdk.retry import RetryPolicy

__all__ = [
    "AssistantError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConnectionFailed",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "RetryPolicy",
    "Unavailable",
]
