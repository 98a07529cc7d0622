"""Start-up checks that run before any model loads, so a misconfigured deployment fails in seconds
with one clear message (shown by /readyz and logged) instead of minutes later or mid-request.

- database: the URL parses, its driver is installed, the server answers, the schema is migrated;
- model server (backend=openai, e.g. `vllm serve`): reachable, and serving the default adapter;
- default LoRA adapter (local backends): its folder exists under engine.adapters_dir.

Unreachable servers are retried for server.startup_wait_seconds (a database or vLLM that starts
alongside the app is normal); a wrong setting fails at once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
from sqlalchemy.exc import OperationalError

from assistant.engine import migrations
from assistant.engine.backends import resolve_backend_name
from assistant.engine.settings import Settings

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A setting or dependency makes the server unusable; the message says which and how to fix it."""


class _Unreachable(Exception):  # noqa: N818 - internal signal: worth retrying
    pass


def check_database(url: str) -> None:
    try:
        engine = migrations.connect(url)
    except Exception as exc:  # noqa: BLE001 - bad URL or missing driver, reported as one line
        hint = " (PostgreSQL URLs start with postgresql+psycopg://)" if url.startswith(("postgres:", "postgresql:")) \
            else ""
        raise StartupError(f"database URL is not usable{hint}: {type(exc).__name__}: {exc}") from exc
    try:
        migrations.ensure_schema(engine)
    except migrations.DatabaseError as exc:
        if isinstance(exc.__cause__, OperationalError):
            raise _Unreachable(str(exc)) from exc
        raise StartupError(str(exc)) from exc
    finally:
        engine.dispose()


def check_model_server(base_url: str, api_key: str, adapter: str) -> None:
    if not base_url:
        raise StartupError("backend=openai needs ASSISTANT_ENGINE__OPENAI_BASE_URL (e.g. http://vllm:8000/v1)")
    url = base_url.rstrip("/") + "/models"
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=5.0)
    except httpx.HTTPError as exc:
        raise _Unreachable(f"model server {url} is unreachable: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise _Unreachable(f"model server {url} answered {response.status_code}")
    if response.status_code != 200:
        raise StartupError(f"model server {url} answered {response.status_code}: {response.text[:200]}")
    served = {m.get("id") for m in response.json().get("data", [])}
    if adapter and adapter not in served:
        raise StartupError(f"adapter {adapter!r} is not served by {base_url}; it serves {sorted(served)} "
                           "(start vLLM with --enable-lora --lora-modules NAME=PATH)")


def check_adapter(adapters_dir: Path, adapter: str) -> None:
    if adapter and not (adapters_dir / adapter).is_dir():
        raise StartupError(f"adapter {adapter!r} not found: {adapters_dir / adapter} is not a folder "
                           "(ASSISTANT_ENGINE__ADAPTER / ASSISTANT_ENGINE__ADAPTERS_DIR)")


def run_checks(settings: Settings) -> None:
    """Raise StartupError on the first problem; retry unreachable servers until the wait runs out."""
    engine = settings.engine
    backend = resolve_backend_name(engine.backend, engine)
    checks = [lambda: check_database(settings.resolved_database_url)]
    if backend == "openai":
        checks.append(lambda: check_model_server(engine.openai_base_url, engine.openai_api_key, engine.adapter))
    elif backend != "fake":
        checks.append(lambda: check_adapter(engine.adapters_dir, engine.adapter))
    deadline = time.monotonic() + settings.server.startup_wait_seconds
    for check in checks:
        while True:
            try:
                check()
                break
            except _Unreachable as exc:
                if time.monotonic() >= deadline:
                    raise StartupError(str(exc)) from exc
                log.warning("start-up: %s; retrying", exc)
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
