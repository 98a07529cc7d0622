"""`assistant sites ...` on a real SQLite database: create, keys (shown once), revoke, origins, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.engine import sites
from assistant.engine.store import Store


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ASSISTANT_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_create_issue_revoke_and_origins(run, tmp_path: Path) -> None:
    r = run("sites", "create", "acme", "Acme support", "--origin", "https://help.acme.com", "--daily-quota", "50",
            "--json")
    assert r.exit_code == 0, r.output
    site = json.loads(r.output.strip().splitlines()[-1])
    assert site["public_key"] in r.output and site["daily_quota"] == 50
    r = run("sites", "keys", "acme", "--new", "backend", "--json")
    key = json.loads(r.output.strip().splitlines()[-1])
    store = Store(f"sqlite:///{tmp_path / 'assistant.db'}")
    assert sites.verify_key(store, key["key"])[0].id == "acme"
    listing = run("sites", "keys", "acme", "--json")
    assert key["key"] not in listing.output and key["id"] in listing.output
    assert run("sites", "revoke", "acme", key["id"]).exit_code == 0
    assert sites.verify_key(store, key["key"]) is None
    r = run("sites", "origins", "acme", "--add", "https://shop.acme.com", "--remove", "https://help.acme.com")
    assert r.output.split() == ["https://shop.acme.com"]
    assert "acme" in run("sites", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sites", "create", "Bad Id", "x"), "site id"),
        (("sites", "create", "ok", "x", "--origin", "nope"), "must look like"),
        (("sites", "keys", "ghost"), "no site 'ghost'"),
        (("sites", "revoke", "ghost", "key_1"), "has no key"),
        (("sites", "origins", "ghost"), "no site 'ghost'"),
    ],
)
def test_bad_input_is_one_line_on_stderr(run, args: tuple[str, ...], message: str) -> None:
    r = run(*args)
    assert r.exit_code != 0 and message in r.output
