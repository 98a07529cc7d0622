"""Alembic environment: runs migrations on the connection the caller passes in (see __init__.py),
or, from the `alembic` command line, on `sqlalchemy.url` / ASSISTANT_DATABASE_URL.

SQLite cannot ALTER most things, so autogenerate renders batch operations there.
"""

from __future__ import annotations

from alembic import context

from assistant.engine.migrations import target_metadata


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from assistant.engine.settings import Settings

    return Settings().resolved_database_url


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata(), literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection) -> None:  # noqa: ANN001 - sqlalchemy Connection
    context.configure(connection=connection, target_metadata=target_metadata(),
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from assistant.engine.migrations import locked_connection
    from assistant.engine.store import make_engine

    engine = make_engine(_url())
    try:
        with locked_connection(engine) as conn:
            _run_on(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
