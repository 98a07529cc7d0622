"""Alembic migrations on SQLite and a real PostgreSQL: up, down, adoption of old databases, start-up races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from assistant.engine import migrations
from assistant.engine.store import Message, Store, make_engine
from tests.deploy.databases import DATABASES, database_url

TURN_USER = {"content": "Where is my parcel?", "intent": "track_order", "sentiment": "neutral"}
TURN_BOT = {"content": "It ships tomorrow [1].", "route": "generate", "sources": [{"doc_id": "shipping"}]}


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    with database_url(request.param, tmp_path) as url:
        yield url


def schema_diff(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, migrations.target_metadata())


def revisions() -> list[str]:
    return [s.revision for s in reversed(list(migrations.script_directory().walk_revisions()))]


def test_upgrade_from_empty_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert migrations.current(engine) is None
    migrations.upgrade(engine)
    assert migrations.current(engine) == migrations.head()
    assert schema_diff(engine) == []  # the migrations build exactly what the models declare
    engine.dispose()


def test_every_step_goes_down_and_up_keeping_the_stored_turn(db_url: str) -> None:
    store = Store(db_url)
    conv_id, msg_id = store.add_turn(None, "default", TURN_USER, TURN_BOT)
    steps = revisions()
    assert steps[0] == migrations.BASELINE and steps[-1] == migrations.head()
    for target in reversed(steps[:-1]):
        migrations.downgrade(store.engine, target)
        assert migrations.current(store.engine) == target
    for target in steps[1:]:
        migrations.upgrade(store.engine, target)
        assert migrations.current(store.engine) == target
    assert schema_diff(store.engine) == []
    conv = store.get_conversation(conv_id)
    assert [m.content for m in conv.messages] == [TURN_USER["content"], TURN_BOT["content"]]
    assert conv.messages[1].id == msg_id and conv.messages[1].sources == [{"doc_id": "shipping"}]
    store.close()


def test_downgrade_to_base_drops_every_table_and_upgrade_restores_them(db_url: str) -> None:
    store = Store(db_url)
    migrations.downgrade(store.engine, "base")
    assert migrations.current(store.engine) is None
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(store.engine)
    assert schema_diff(store.engine) == []
    store.close()


def test_new_database_from_the_store_equals_the_migrated_one(db_url: str) -> None:
    store = Store(db_url)  # create_all + stamp: the fast path for a new database
    assert migrations.current(store.engine) == migrations.head()
    assert schema_diff(store.engine) == []
    store.close()


def _old_turn(engine) -> str:  # noqa: ANN001
    """Store a turn in the tables as they are (reflected), as the code of that time did; returns its conversation."""
    now, conv_id = datetime.now(UTC), "old-conversation"
    with engine.begin() as conn:
        tables = MetaData()
        conversations = Table("conversations", tables, autoload_with=conn)
        messages = Table("messages", tables, autoload_with=conn)
        conn.execute(conversations.insert().values(id=conv_id, site_id="default", created_at=now, updated_at=now,
                                                   status="active"))
        for seq, (role, turn) in enumerate((("user", TURN_USER), ("assistant", TURN_BOT)), start=1):
            conn.execute(messages.insert().values(
                id=f"old-{seq}", conversation_id=conv_id, seq=seq, role=role, created_at=now, out_of_scope=False,
                abstained=False, sources=turn.get("sources", []), timings={},
                **{k: v for k, v in turn.items() if k != "sources"}))
    return conv_id


def test_database_from_before_alembic_is_adopted_and_upgraded(db_url: str) -> None:
    engine = make_engine(db_url)
    migrations.upgrade(engine, migrations.BASELINE)  # what the old create_all made: the store's tables...
    metadata = migrations.target_metadata()
    others = [t for name, t in metadata.tables.items() if name not in ("conversations", "messages")]
    with engine.begin() as conn:
        metadata.create_all(conn, tables=others)  # ...and every other module's, ad hoc
        conn.exec_driver_sql("DROP TABLE alembic_version")  # ...without any version table
    conv_id = _old_turn(engine)  # a turn stored by the old code: only the columns its tables have
    store = Store(db_url)  # start-up: stamps the baseline, then upgrades
    assert migrations.current(store.engine) == migrations.head()
    assert schema_diff(store.engine) == []
    assert len(store.get_conversation(conv_id).messages) == 2
    store.close()
    engine.dispose()


def test_replicas_starting_together_both_get_the_schema(db_url: str) -> None:
    results: list[object] = []

    def start() -> None:
        try:
            store = Store(db_url)
            results.append(migrations.current(store.engine))
            store.close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [migrations.head()] * 3


def test_two_messages_cannot_share_a_position_in_a_conversation(db_url: str) -> None:
    store = Store(db_url)
    conv_id, _ = store.add_turn(None, "default", TURN_USER, TURN_BOT)
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Message(conversation_id=conv_id, seq=1, role="user", content="duplicate"))
    store.close()


def test_unreachable_database_is_one_clear_error_without_the_password() -> None:
    with pytest.raises(migrations.DatabaseError) as info:
        Store("postgresql+psycopg://assistant:s3cret-pw@127.0.0.1:1/assistant")
    message = str(info.value)
    assert "127.0.0.1:1" in message and "s3cret-pw" not in message and "***" in message


def test_db_commands_upgrade_report_and_downgrade(tmp_path: Path) -> None:
    from assistant.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    up = runner.invoke(app, ["db", "upgrade", "--database-url", url, "--json"])
    assert up.exit_code == 0, up.output
    assert up.output.strip().splitlines()[-1] == f'{{"action": "upgrade", "from": null, "to": "{migrations.head()}", ' \
        f'"head": "{migrations.head()}"}}'
    down = runner.invoke(app, ["db", "downgrade", migrations.BASELINE, "--yes", "--database-url", url])
    assert down.exit_code == 0 and f"-> {migrations.BASELINE}" in down.output
    now = runner.invoke(app, ["db", "current", "--database-url", url, "--json"])
    assert now.exit_code == 0 and '"up_to_date": false' in now.output
    refused = runner.invoke(app, ["db", "downgrade", "base", "--database-url", url], input="n\n")
    assert refused.exit_code != 0 and migrations.current(make_engine(url)) == migrations.BASELINE
    bad = runner.invoke(app, ["db", "upgrade", "no-such-rev", "--database-url", url])
    assert bad.exit_code == 2 and "no-such-rev" in bad.output
