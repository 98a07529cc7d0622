"""Liveness (/healthz: the process answers) and readiness (/readyz: models and index loaded).

/readyz also says how many documents the knowledge base holds and which files or FAQ rows its
first-start ingest left out ("knowledge_base": {"documents", "left_out": [{"where", "reason"}], "left_out_total"}).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assistant.server.deps import StateDep
from assistant.server.schemas import Health, KnowledgeBaseHealth

router = APIRouter(tags=["health"])


def _health(state: StateDep, *, knowledge: bool = False) -> Health:
    a = state.assistant
    status = "error" if state.error else ("ok" if a is not None else "loading")
    knowledge_base = getattr(a, "knowledge", None) if knowledge else None  # stand-in facades may lack it
    kb = KnowledgeBaseHealth(**knowledge_base.status().as_dict()) if knowledge_base is not None else None
    return Health(status=status, ready=state.ready, backend=a.model.engine if a else None,
                  model=a.model.id if a else None, detail=state.error, knowledge_base=kb)


@router.get("/healthz", response_model=Health)
async def healthz(state: StateDep) -> Health:
    return _health(state)


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(state: StateDep) -> JSONResponse:
    health = _health(state, knowledge=True)  # with the documents indexed and the inputs left out
    return JSONResponse(health.model_dump(), status_code=200 if health.ready else 503)
