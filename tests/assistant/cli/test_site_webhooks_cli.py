"""`assistant sites webhook` on a real SQLite database: set (secret generated), show, refuse a non-http URL, clear;
every change audited as "cli", with the key changes of `assistant sites keys|revoke`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.engine.audit import AuditLog
from assistant.engine.store import Store


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ASSISTANT_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_webhook_set_show_refuse_clear_and_audit(run, tmp_path: Path) -> None:
    assert run("sites", "create", "acme", "Acme support").exit_code == 0
    r = run("sites", "webhook", "acme", "--url", "https://desk.acme.test/hook", "--json")
    assert r.exit_code == 0, r.output
    row = json.loads(r.output.strip().splitlines()[-1])
    assert row["url"] == "https://desk.acme.test/hook" and row["secret"].startswith("whsec_") and row["format"] == "json"
    bad = run("sites", "webhook", "acme", "--url", "ftp://desk.acme.test/hook")
    assert bad.exit_code == 2 and "must be an http:// or https:// URL" in bad.output
    shown = run("sites", "webhook", "acme", "--json")
    assert json.loads(shown.output.strip().splitlines()[-1]) == row  # the refused URL changed nothing
    assert run("sites", "webhook", "acme", "--format", "slack").exit_code == 0
    assert run("sites", "webhook", "acme", "--format", "xml").exit_code == 2
    assert run("sites", "webhook", "nope", "--url", "https://x.test/").exit_code == 2
    assert "no webhook" in run("sites", "webhook", "acme", "--clear").output
    key = json.loads(run("sites", "keys", "acme", "--new", "desk", "--json").output.strip().splitlines()[-1])
    assert run("sites", "revoke", "acme", key["id"]).exit_code == 0

    entries = AuditLog(Store(f"sqlite:///{tmp_path / 'assistant.db'}")).entries(site_id="acme")
    assert [e.action for e in reversed(entries)] == ["site_create", "site_update", "site_update", "site_update",
                                                     "key_issue", "key_revoke"]
    assert {e.actor for e in entries} == {"cli"}
    assert entries[3].detail == {"fields": ["webhook_format"]}  # field names only: never the secret's value
    assert all("whsec_" not in json.dumps(e.detail) for e in entries)
