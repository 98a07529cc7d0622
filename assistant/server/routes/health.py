"""Liveness (/healthz: the process answers) and readiness (/readyz: models and index loaded)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assistant.server.deps import StateDep
from assistant.server.schemas import Health

router = APIRouter(tags=["health"])


def _health(state: StateDep) -> Health:
    a = state.assistant
    status = "error" if state.error else ("ok" if a is not None else "loading")
    return Health(status=status, ready=state.ready, backend=a.backend.name if a else None,
                  model=a.backend.model_id if a else None, detail=state.error)


@router.get("/healthz", response_model=Health)
async def healthz(state: StateDep) -> Health:
    return _health(state)


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(state: StateDep) -> JSONResponse:
    health = _health(state)
    return JSONResponse(health.model_dump(), status_code=200 if health.ready else 503)
