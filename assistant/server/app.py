"""FastAPI app factory: state built once (in the background), routers included, errors unified.

    uvicorn --factory assistant.server.app:create_app      (API only; `assistant serve` adds the UIs)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.base import BaseHTTPMiddleware

from assistant import __version__
from assistant.engine.settings import Settings
from assistant.server.errors import error_response, install_error_handlers
from assistant.server.logging import install_request_logging
from assistant.server.metrics import HTTPMetrics
from assistant.server.origins import SiteOrigins
from assistant.server.routes import (
    admin,
    chat,
    conversations,
    exports,
    feedback,
    handoff,
    health,
    intents,
    kb,
    messages,
    metrics,
    openai,
    queue,
    sites,
    templates,
    unanswered,
    widget,
)
from assistant.server.state import AppState

# Largest JSON request body: a longest message (server.max_message_chars) with its options fits several times over;
# knowledge-base uploads and the console's own requests are exempt
MAX_BODY_BYTES = 64_000


class BodyLimit(BaseHTTPMiddleware):
    """Reject oversize bodies by Content-Length before any parsing or storage (413)."""

    def __init__(self, app: Any, limit: int, exempt: tuple[str, ...] = ()) -> None:
        super().__init__(app)
        self.limit, self.exempt = limit, exempt

    async def dispatch(self, request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.limit and not request.url.path.startswith(self.exempt):
            return error_response(413, "payload_too_large", f"request body over {self.limit} bytes")
        return await call_next(request)


def _default_factory(settings: Settings) -> Any:
    from assistant.engine.facade import Assistant

    return Assistant.from_settings(settings, progress=False)


def create_app(settings: Settings | None = None, *, assistant: Any = None,
               factory: Callable[[Settings], Any] | None = None) -> FastAPI:
    """Build the app. Pass `assistant` to serve a ready facade (tests), or a `factory` to build it at start-up."""
    settings = settings or Settings()
    state = AppState(settings=settings, assistant=assistant)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.assistant is None:
            state.loader = asyncio.create_task(state.load(factory or _default_factory))
        yield
        if state.loader:
            state.loader.cancel()
        if state.assistant is not None:
            await state.assistant.close()

    app = FastAPI(title="Support Assistant API", version=__version__, lifespan=lifespan,
                  description="Customer-service assistant: chat with grounded answers, conversations, knowledge base.")
    app.state.app_state = state
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, exempt=("/v1/kb/documents", "/console", "/ui"))
    install_error_handlers(app)
    app.add_middleware(SiteOrigins, state=state)
    app.add_middleware(HTTPMetrics)
    install_request_logging(app)  # outermost: every line of a request carries its id
    for module in (health, chat, openai, conversations, feedback, handoff, messages, queue, kb, sites, templates, widget,
                   admin, exports, metrics, unanswered, intents):
        app.include_router(module.router)
    return app
