"""`assistant db upgrade|downgrade|current`: the conversation store's schema migrations (Alembic).

    assistant db upgrade                    # to the newest schema (the server also does this at start)
    assistant db upgrade --sql              # print the SQL instead, for a DBA to review
    assistant db downgrade 0001 --yes       # back to a revision ("base" drops every table)
    assistant db current --json

The database is ASSISTANT_DATABASE_URL (default: SQLite in the data dir) or --database-url.
"""

from __future__ import annotations

import typer

from assistant.cli.common import JsonFlag, build_settings, fail, print_json_last

URL_HELP = "SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/db (default: from settings)."


def _engine(url: str | None):  # noqa: ANN202 - sqlalchemy Engine, imported lazily
    from assistant.engine import migrations

    resolved = url or build_settings().resolved_database_url
    try:
        return migrations.connect(resolved)
    except Exception as exc:  # noqa: BLE001 - unparsable URL or missing driver: one clear line
        fail(f"cannot use database URL: {type(exc).__name__}: {exc}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    db_app = typer.Typer(help="Database schema: upgrade, downgrade, show the current revision.",
                         no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command()
    def upgrade(
        revision: str = typer.Argument("head", help="Target revision (default: head, the newest)."),
        database_url: str = typer.Option(None, help=URL_HELP),
        sql: bool = typer.Option(False, "--sql", help="Print the SQL instead of running it."),
        json_out: JsonFlag = False,
    ) -> None:
        """Migrate the database up to REVISION."""
        _migrate("upgrade", revision, database_url, sql, json_out)

    @db_app.command()
    def downgrade(
        revision: str = typer.Argument("-1", help='Target revision: "-1" (one step), an id, or "base".'),
        database_url: str = typer.Option(None, help=URL_HELP),
        yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
        sql: bool = typer.Option(False, "--sql", help="Print the SQL instead of running it."),
        json_out: JsonFlag = False,
    ) -> None:
        """Migrate the database down to REVISION (may drop data)."""
        if not (yes or sql) and not typer.confirm(f"Downgrade the database to {revision}? This may drop data"):
            fail("aborted; nothing changed", code=1)
        _migrate("downgrade", revision, database_url, sql, json_out)

    @db_app.command()
    def current(
        database_url: str = typer.Option(None, help=URL_HELP),
        json_out: JsonFlag = False,
    ) -> None:
        """Show the database's schema revision and the newest one available."""
        from assistant.engine import migrations

        engine = _engine(database_url)
        try:
            revision = migrations.current(engine)
        except migrations.DatabaseError as exc:
            fail(str(exc))
        finally:
            engine.dispose()
        head = migrations.head()
        typer.echo(f"{migrations.masked_url(engine)}: {revision or 'empty (no schema)'}; newest is {head}"
                   + ("" if revision == head else " - run `assistant db upgrade`"))
        if json_out:
            print_json_last({"current": revision, "head": head, "up_to_date": revision == head})


def _migrate(action: str, revision: str, url: str | None, sql: bool, json_out: bool) -> None:
    from alembic.util.exc import CommandError

    from assistant.engine import migrations

    engine = _engine(url)
    if sql:
        try:
            migrations.sql_script(engine.url.render_as_string(hide_password=False), action, revision)
        except CommandError as exc:
            fail(str(exc))
        return
    try:
        before = migrations.current(engine)
        getattr(migrations, action)(engine, revision)
        after = migrations.current(engine)
    except (migrations.DatabaseError, CommandError) as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    typer.echo(f"{migrations.masked_url(engine)}: {before or 'empty'} -> {after or 'base (no tables)'}")
    if json_out:
        print_json_last({"action": action, "from": before, "to": after, "head": migrations.head()})
