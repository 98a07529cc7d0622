"""OpenAI-shaped errors for the OpenAI-compatible routes: {"error": {"message", "type", "param", "code"}}.

The app's exception handlers write the product's own error schema. OpenAI clients need their own
shape to raise the right class (BadRequestError, NotFoundError, ...), so routers built with
`OpenAIRoute` translate every error raised while handling the request (dependencies, body parsing,
the facade) before the app's handlers see it. Statuses and Retry-After headers are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.engine.errors import (
    AdapterNotFound,
    BackendError,
    ConversationNotFound,
    InvalidMessage,
    QueueFull,
)
from assistant.server.errors import APIError
from assistant.server.openai_schema import ERROR_TYPES, OpenAIError, OpenAIErrorDetail


def invalid(param: str | None, message: str, code: str = "invalid_value", status: int = 400) -> APIError:
    """An APIError that names the offending request parameter, as OpenAI's errors do."""
    return APIError(status, code, message, details={"param": param})


def error_object(status: int, code: str | None, message: str, param: str | None = None) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return OpenAIError(error=OpenAIErrorDetail(message=message, type=kind, param=param, code=code)).model_dump()


def _response(status: int, code: str | None, message: str, param: str | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_object(status, code, message, param), status_code=status, headers=headers)


def _validation(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _response(400, "invalid_json", "We could not parse the JSON body of your request.")
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(loc) or None
    message = f"Invalid '{param}': {first.get('msg', 'invalid value')}." if param else str(first.get("msg"))
    return _response(400, str(first.get("type", "invalid_value")), message, param)


def to_openai_error(exc: Exception) -> JSONResponse | None:
    """The OpenAI-shaped response for a known error, or None to let it propagate."""
    if isinstance(exc, APIError):
        details = exc.details if isinstance(exc.details, dict) else {}
        return _response(exc.status, exc.code, exc.message, details.get("param"), exc.headers)
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if isinstance(exc, InvalidMessage):
        return _response(400, "invalid_message", str(exc), "messages")
    if isinstance(exc, ConversationNotFound):
        return _response(404, "conversation_not_found", f"no conversation with id {exc.args[0]!r}",
                         "assistant.conversation_id")
    if isinstance(exc, AdapterNotFound):
        return _response(404, "model_not_found", str(exc), "model")
    if isinstance(exc, QueueFull):
        return _response(503, "overloaded", "the engine is busy; retry shortly", headers={"Retry-After": "2"})
    if isinstance(exc, BackendError):
        return _response(503, "engine_unavailable", str(exc), headers={"Retry-After": "2"})
    if isinstance(exc, StarletteHTTPException):
        return _response(exc.status_code, "http_error", str(exc.detail), headers=getattr(exc, "headers", None))
    return None


class OpenAIRoute(APIRoute):
    """An APIRoute whose errors come out in OpenAI's shape instead of the product's."""

    # OpenAI clients cannot send no key: with keys not required, any key is taken, as vLLM and Ollama take it
    # (read by assistant.server.auth.authenticate).
    accepts_any_key = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                response = to_openai_error(exc)
                if response is None:
                    raise
                return response

        return handle
