"""Annotated dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.server.errors import APIError
from assistant.server.state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.app_state


def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


def get_assistant(state: Annotated[AppState, Depends(get_state)]) -> Assistant:
    if state.error:
        raise APIError(503, "not_ready", f"the assistant failed to start: {state.error}", headers={"Retry-After": "30"})
    if state.assistant is None:
        raise APIError(503, "not_ready", "the assistant is still loading models", headers={"Retry-After": "5"})
    return state.assistant


def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise APIError(415, "unsupported_media_type", "send the body as application/json")


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
JSONBody = Depends(require_json)
