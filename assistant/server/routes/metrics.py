"""GET /metrics: Prometheus text exposition (scraped inside the cluster; keep it off public ingress)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from assistant.server import metrics
from assistant.server.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def scrape(state: StateDep) -> Response:
    metrics.sample_state(state)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
