"""GET /v1/exports/conversations: the caller's site's conversations as a JSONL or CSV download (secret key).

The same export as `assistant conversations export` (assistant.engine.conversation_export): filtered by period
(last activity), route and sentiment, redacted on the way out, formula-safe CSV, and recorded in the site's
audit log under the key that asked. It is written to a temporary file first, so a failure is a JSON error,
never a cut-off download, and a large export does not sit in memory.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from assistant.engine.conversation_export import ExportError, ExportFilter
from assistant.server.auth import SecretCallerDep
from assistant.server.deps import AssistantDep
from assistant.server.errors import APIError
from assistant.server.ratelimit import rate_limited

router = APIRouter(prefix="/v1/exports", tags=["exports"], dependencies=[Depends(rate_limited)])
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@router.get("/conversations", response_class=FileResponse, responses={
    200: {"description": "JSONL: one conversation a line with its messages; CSV: one message a row. "
                         "X-Export-Count: how many conversations.",
          "content": {"application/x-ndjson": {}, "text/csv": {}}},
    400: {"description": "Unknown route or sentiment, or an empty period; nothing exported."},
})
async def export_conversations(
    caller: SecretCallerDep, assistant: AssistantDep,
    format: Literal["jsonl", "csv"] = Query("jsonl", description="jsonl or csv."),  # the query name clients send
    since: datetime | None = Query(None, description="Active from (ISO date-time)."),
    until: datetime | None = Query(None, description="Active before (ISO date-time)."),
    route: str | None = Query(None, max_length=32, description="With an assistant reply on this route."),
    sentiment: str | None = Query(None, max_length=16, description="With a customer message of this sentiment."),
) -> FileResponse:
    """The site's conversations, redacted, as a download: JSONL (a conversation a line) or CSV (a message a row)."""
    where = ExportFilter(site_id=caller.site.id, since=since, until=until, route=route, sentiment=sentiment)
    actor = f"key:{caller.key_id}" if caller.key_id else "local"
    handle, path = tempfile.mkstemp(prefix="export-", suffix=f".{format}")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            count = await asyncio.to_thread(assistant.exports.write, out, format, where, actor=actor)
    except ExportError as exc:
        os.unlink(path)
        raise APIError(400, "invalid_export", str(exc)) from exc
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type=MEDIA_TYPES[format], filename=f"conversations-{caller.site.id}.{format}",
                        headers={"X-Export-Count": str(count)}, background=BackgroundTask(os.unlink, path))
