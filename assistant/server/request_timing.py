"""Base ASGI middleware for per-request observers (access log, metrics): status and duration of each
HTTP request, taken when the response has really finished (for a stream: after its last byte)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TimedRequest:
    """Subclasses implement `finished(scope, status, seconds)`; `started(scope)` is optional."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def started(self, scope: Scope) -> None:
        return None

    def finished(self, scope: Scope, status: int, seconds: float) -> None:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500  # an app that raises before responding counts as a 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.started(scope)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.finished(scope, status, time.perf_counter() - start)
