"""Schema migrations (Alembic) for the conversation store, the same on SQLite and PostgreSQL.

    assistant db upgrade [REV] | downgrade [REV] | current        (assistant/cli/db.py)

The app calls `ensure_schema(engine)` when it opens the store: an empty database gets the current
schema in one step (create_all + stamp head, Alembic's recipe for new databases, which the
migration tests prove equal to running every migration), an older one is upgraded, and one made
by the pre-Alembic `create_all` is adopted at the baseline revision first. Replicas starting
together take turns: PostgreSQL through an advisory lock, SQLite through its write lock.

New model or column: add a file under versions/ (`alembic revision --autogenerate` works with
the `alembic.ini` next to this file); tests/assistant/engine/test_migrations.py fails while the
models and the migrations disagree.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema the pre-Alembic create_all produced
# Every module that declares tables on store.Base: their tables must be known before create_all
# or autogenerate. Add new model modules here (and a migration for their tables).
MODEL_MODULES = ("assistant.engine.store", "assistant.engine.reviews", "assistant.engine.intent_examples",
                 "assistant.engine.alerts", "assistant.engine.sites", "assistant.engine.handoffs",
                 "assistant.engine.queue", "assistant.engine.audit", "assistant.engine.webhooks",
                 "assistant.engine.contacts", "assistant.engine.template_versions",
                 "assistant.engine.intent_versions")
# Arbitrary constant shared by every replica: the key of the PostgreSQL advisory lock.
_PG_LOCK_KEY = 7_312_004_419
# SQLite answers "database is locked" at once, without waiting, when two connections would deadlock (a new
# connection switching the file to WAL while a replica migrates). Such a starter backs off and retries.
_SQLITE_RETRY_S = 30.0


class DatabaseError(RuntimeError):
    """The database cannot be reached or migrated; the message is safe to show (password masked)."""


def connect(url: str) -> Engine:
    """An engine for `url` with the store's connection settings (SQLite: WAL, busy timeout), schema untouched."""
    from assistant.engine.store import make_engine

    return make_engine(url)


def masked_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def target_metadata() -> MetaData:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from assistant.engine.store import Base

    return Base.metadata


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    revision = script_directory().get_current_head()
    assert revision is not None, "migrations/versions is empty"
    return revision


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


@contextmanager
def locked_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the schema lock; commits on success, rolls back on any error."""
    deadline = time.monotonic() + _SQLITE_RETRY_S
    while True:
        try:
            conn = engine.connect()
            break
        except SQLAlchemyError as exc:
            locked = isinstance(exc, OperationalError) and "locked" in str(exc)
            if locked and engine.dialect.name == "sqlite" and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise DatabaseError(f"cannot connect to the database {masked_url(engine)}: {_reason(exc)}") from exc
    with conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock now, not at the first write, so two starters cannot both see "empty".
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot read the schema version of {masked_url(engine)}: {_reason(exc)}") from exc


def _run(engine: Engine, action: str, revision: str) -> None:
    try:
        with locked_connection(engine) as conn:
            getattr(command, action)(alembic_config(conn), revision)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"{action} to {revision} failed on {masked_url(engine)}: {_reason(exc)}") from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    _run(engine, "downgrade", revision)


def sql_script(url: str, action: str, revision: str) -> None:
    """Print the SQL of an upgrade/downgrade instead of running it (for a DBA to review); offline."""
    getattr(command, action)(alembic_config(url=url), revision, sql=True)


def ensure_schema(engine: Engine) -> str:
    """Bring the database to the newest schema, safely when several replicas start at once."""
    try:
        with locked_connection(engine) as conn:
            context = MigrationContext.configure(conn)
            revision = context.get_current_revision()
            if revision == head():
                return revision
            if revision is None:
                metadata = target_metadata()
                existing = set(inspect(conn).get_table_names())
                if not existing & set(metadata.tables):
                    metadata.create_all(conn)
                    context.stamp(script_directory(), "head")
                    log.info("database %s: created the schema at revision %s", masked_url(engine), head())
                    return head()
                context.stamp(script_directory(), BASELINE)  # made by the old create_all
                revision = BASELINE
            command.upgrade(alembic_config(conn), "head")
            log.info("database %s: migrated from revision %s to %s", masked_url(engine), revision, head())
            return head()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot prepare the database {masked_url(engine)}: {_reason(exc)}") from exc
