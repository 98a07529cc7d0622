"""One error schema everywhere: {"error": {"code", "message", "details"?}} with a 4xx/5xx status."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.engine.errors import (
    AdapterNotFound,
    BackendError,
    ConversationNotFound,
    InvalidMessage,
    NotHandedOff,
    QueueFull,
)


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str, *, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", "request body is not valid JSON", _validation_details(exc))
        return error_response(422, "invalid_request", "request failed validation", _validation_details(exc))

    @app.exception_handler(InvalidMessage)
    async def _invalid_message(_: Request, exc: InvalidMessage) -> JSONResponse:
        return error_response(400, "invalid_message", str(exc))

    @app.exception_handler(ConversationNotFound)
    async def _not_found(_: Request, exc: ConversationNotFound) -> JSONResponse:
        return error_response(404, "conversation_not_found", f"no conversation with id {exc.args[0]!r}")

    @app.exception_handler(NotHandedOff)
    async def _not_handed_off(_: Request, exc: NotHandedOff) -> JSONResponse:
        return error_response(409, "not_handed_off", "this conversation is not with a person")

    @app.exception_handler(AdapterNotFound)
    async def _adapter(_: Request, exc: AdapterNotFound) -> JSONResponse:
        return error_response(404, "adapter_not_found", str(exc))

    @app.exception_handler(QueueFull)
    async def _overloaded(_: Request, exc: QueueFull) -> JSONResponse:
        return error_response(503, "overloaded", "the engine is busy; retry shortly", headers={"Retry-After": "2"})

    @app.exception_handler(BackendError)
    async def _backend(_: Request, exc: BackendError) -> JSONResponse:
        return error_response(503, "engine_unavailable", str(exc), headers={"Retry-After": "2"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


def is_json(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";")[0].strip().lower() in ("application/json",)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
