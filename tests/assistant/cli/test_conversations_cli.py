"""`assistant conversations export` through the real CLI on a real SQLite database (no model is loaded)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from tests.console_seed import Turn, seed_conversation


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "var"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    store = Store(Settings(data_dir=data).resolved_database_url)
    seed_conversation(store, datetime(2026, 11, 10, tzinfo=UTC),
                      [Turn("Call me on +44 20 7946 0958 please", sentiment="negative", route="abstain")],
                      site_id="acme", conversation_id="c-1")
    seed_conversation(store, datetime(2026, 12, 2, tzinfo=UTC), [Turn("Where is my parcel?")],
                      site_id="acme", conversation_id="c-2")
    return data


def test_export_to_files_and_stdout_with_filters(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["conversations", "export", "--site", "acme", "-o", str(tmp_path / "all.jsonl")])
    assert done.exit_code == 0, done.output
    assert "exported 2 conversations" in done.stderr
    lines = (tmp_path / "all.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["c-1", "c-2"]
    assert "7946" not in (tmp_path / "all.jsonl").read_text()  # the phone number is redacted
    done = runner.invoke(app, ["conversations", "export", "--route", "abstain", "-o", str(tmp_path / "sad.csv")])
    rows = list(csv.DictReader((tmp_path / "sad.csv").open()))
    assert done.exit_code == 0 and {r["conversation_id"] for r in rows} == {"c-1"} and len(rows) == 2
    done = runner.invoke(app, ["conversations", "export", "--since", "2026-12-01", "--format", "csv"])
    assert done.exit_code == 0 and [r["conversation_id"] for r in csv.DictReader(done.stdout.splitlines())] == \
        ["c-2", "c-2"]
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "xml"], "unknown format"),
    (["--sentiment", "furious"], "unknown sentiment"),
    (["--since", "last tuesday"], "not an ISO date"),
])
def test_bad_options_fail_with_one_line_and_write_nothing(data_dir: Path, tmp_path: Path, args: list[str],
                                                          message: str) -> None:
    done = CliRunner().invoke(app, ["conversations", "export", "-o", str(tmp_path / "out.jsonl"), *args])
    assert done.exit_code != 0 and message in done.output
    assert not (tmp_path / "out.jsonl").exists() and not list(tmp_path.glob("*.partial"))
