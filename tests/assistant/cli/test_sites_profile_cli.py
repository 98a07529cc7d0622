"""`assistant sites create|show|update|delete` with a site's profile, on a real SQLite database: set and show the
fields, refuse bad values with one line and exit 2 (nothing written), delete only after confirmation or --yes and,
while a person may be answering, only with --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.engine.sites import SiteDirectory
from assistant.engine.store import Store


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ASSISTANT_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(app, list(args), input=input)


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_create_show_and_update_a_sites_profile(run, tmp_path: Path) -> None:
    templates = tmp_path / "t.yaml"
    templates.write_text("intents:\n  hours:\n    templates:\n      - id: hours.default\n        text: Open 9-6.\n")
    r = run("sites", "create", "bikes", "Bike support", "--company", "Pedal Rentals", "--handoff-message",
            "A rider guide will write back.", "--templates", str(templates), "--json")
    assert r.exit_code == 0, r.output
    site = last_json(r.output)
    assert (site["company"], site["templates_path"], site["intents_path"]) == ("Pedal Rentals", str(templates), None)
    r = run("sites", "update", "bikes", "--greeting", "Hey rider!", "--company", "")
    assert r.exit_code == 0 and "company, greeting" in r.output
    shown = last_json(run("sites", "show", "bikes", "--json").output)
    assert (shown["company"], shown["greeting"], shown["conversations"]) == (None, "Hey rider!", 0)
    assert "(unset)" in run("sites", "show", "bikes").output


@pytest.mark.parametrize(("args", "message"), [
    (("sites", "update", "bikes", "--greeting", "Hi", "--templates", "missing.yaml"), "templates file not found"),
    (("sites", "update", "bikes", "--greeting", "Hi", "--company", "x" * 201), "company is 201 characters"),
    (("sites", "update", "bikes"), "nothing to change"),
    (("sites", "update", "ghost", "--company", "X"), "no site 'ghost'"),
    (("sites", "show", "ghost"), "no site 'ghost'"),
    (("sites", "delete", "ghost", "--yes"), "no site 'ghost'"),
])
def test_bad_input_is_one_line_and_nothing_is_written(run, args: tuple[str, ...], message: str) -> None:
    assert run("sites", "create", "bikes", "Bikes").exit_code == 0
    r = run(*args)
    assert r.exit_code == 2 and message in r.output
    assert last_json(run("sites", "show", "bikes", "--json").output)["greeting"] is None


def test_delete_asks_first_and_waits_for_open_handoffs(run, tmp_path: Path) -> None:
    assert run("sites", "create", "bikes", "Bikes").exit_code == 0
    store = Store(f"sqlite:///{tmp_path / 'assistant.db'}")
    conv_id, _ = store.add_turn(None, "bikes", {"content": "I want a person"},
                                {"content": "Passing you on.", "route": "handoff"}, handoff_reason="customer_request")
    r = run("sites", "delete", "bikes", "--yes")
    assert r.exit_code == 2 and "1 open handoff(s)" in r.output and "--force" in r.output
    r = run("sites", "delete", "bikes", "--force", input="n\n")
    assert r.exit_code == 1 and "with 1 conversation(s), 0 key(s)" in r.output and "nothing deleted" in r.output
    assert store.exists(conv_id)
    r = run("sites", "delete", "bikes", "--force", "--json", input="y\n")
    assert r.exit_code == 0, r.output
    assert last_json(r.output)["conversations"] == 1 and not store.exists(conv_id)
    assert [s.id for s in SiteDirectory(store).all_sites()] == []
    r = run("sites", "delete", "default", "--yes")
    assert r.exit_code == 2 and "cannot be deleted" in r.output
