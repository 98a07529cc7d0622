"""Application state built once at start-up: the facade, loaded in the background so that
/healthz answers at once and /readyz turns true only when models and index are loaded."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from assistant.engine.settings import Settings
from assistant.server.preflight import run_checks

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    assistant: Any = None
    error: str | None = None
    loader: asyncio.Task | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.assistant is not None and self.error is None

    async def load(self, factory: Any) -> None:
        try:
            await asyncio.to_thread(run_checks, self.settings)  # seconds, before minutes of model loading
            assistant = await asyncio.to_thread(factory, self.settings)
            await assistant.start()
            self.assistant = assistant
            log.info("assistant ready: backend=%s model=%s", assistant.model.engine, assistant.model.id)
        except Exception as exc:  # noqa: BLE001 - reported through /readyz and 503s, never a crash
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("start-up failed: %s", self.error)
