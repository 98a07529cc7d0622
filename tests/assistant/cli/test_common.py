"""An invalid setting ends a CLI command with one clear line naming the variable, and exit code 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from assistant.cli import app


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ASSISTANT_SERVER__LOG_LEVEL", "loud", "'debug', 'info', 'warning' or 'error'"),
        ("ASSISTANT_CONSOLE__TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("ASSISTANT_RETRIEVAL__TOP_K", "0", "greater than or equal to 1"),
    ],
)
def test_invalid_setting_is_one_line_and_exit_2(monkeypatch, tmp_path, variable, value, expected) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["kb", "stats"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"error: invalid settings: {variable}: " in result.output and expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data").exists()  # nothing was created


def test_shared_flags_read_the_same_on_every_command(tmp_path) -> None:
    """--json, --threads, --epochs and --plot are declared once (common.py); each command that takes one
    must accept it as a flag with the same bounds, and refuse a bad value before doing any work."""
    runner = CliRunner()
    data = ["--data", "x.csv"]
    split = ["--train", "x.csv", "--test", "y.csv"]
    for command in (["train", "intents", *data], ["train", "sentiment", *data],
                    ["eval", "intents", *split], ["eval", "sentiment", *split]):
        shown = runner.invoke(app, [*command[:2], "--help"], terminal_width=200).output
        for flag in ("--json", "--threads", "--epochs"):
            assert flag in shown, (command, flag)
        for flag in ("--threads", "--epochs"):
            bad = runner.invoke(app, [*command, flag, "-1"], terminal_width=200)
            assert bad.exit_code == 2 and f"Invalid value for '{flag}'" in bad.output, (command, bad.output)
    for command in (["eval", "intents"], ["eval", "sentiment"], ["eval", "answers"]):
        assert "--plot" in runner.invoke(app, [*command, "--help"], terminal_width=200).output
    listed = runner.invoke(app, ["sites", "list", "--json"], env={"ASSISTANT_DATA_DIR": str(tmp_path)})
    assert listed.exit_code == 0, listed.output
    assert listed.output.strip().splitlines()[-1] == "[]"
