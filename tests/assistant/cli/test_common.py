"""An invalid setting ends a CLI command with one clear line naming the variable, and exit code 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from assistant.cli import app


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ASSISTANT_RETRIEVAL__EMBED_BACKEND", "bogus", "'auto', 'torch', 'onnx' or 'onnx-int8'"),
        ("ASSISTANT_UNDERSTANDING__LIVE_RUNTIME", "gpu", "'auto', 'torch' or 'onnx'"),
        ("ASSISTANT_RETRIEVAL__CHUNK_SIZE", "3", "greater than or equal to 64"),
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
