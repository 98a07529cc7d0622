"""Test databases: a SQLite file, or a fresh database on the real PostgreSQL named by ASSISTANT_TEST_POSTGRES_URL.

    export ASSISTANT_TEST_POSTGRES_URL="$(bash deploy/ci/postgres.sh)"

    @pytest.fixture(params=DATABASES)
    def db_url(request, tmp_path):
        with database_url(request.param, tmp_path) as url:
            yield url

Without the variable the PostgreSQL cases skip, except under CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

POSTGRES_ENV = "ASSISTANT_TEST_POSTGRES_URL"
DATABASES = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        message = f"{POSTGRES_ENV} is not set (start one with: export {POSTGRES_ENV}=\"$(bash deploy/ci/postgres.sh)\")"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards (even with connections left open)."""
    server = make_url(postgres_server_url())
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'assistant.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url
