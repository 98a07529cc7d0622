"""`assistant prepare` through the real CLI: the models land in the model cache, a data directory stays untouched,
and a configuration the engine cannot serve fails with one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_prepare_fills_the_model_cache_and_leaves_the_data_dir_alone(
        tmp_path: Path, model_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE_DIR", str(model_cache_dir))
    done = CliRunner().invoke(app, ["prepare"])
    assert done.exit_code == 0, done.output
    assert f"models ready in {model_cache_dir}" in done.stdout
    assert list(model_cache_dir.glob("models/*.onnx-int8/model.onnx"))
    assert list(model_cache_dir.glob("intent-models/*/meta.json"))
    assert not (tmp_path / "var").exists()
    # the server may run as another user (the image's uid 10001): every file and folder is readable by all
    private = [p for p in [model_cache_dir, *model_cache_dir.rglob("*")] if not p.stat().st_mode & 0o004]
    assert private == []


def test_prepare_fails_with_one_line_naming_the_setting(
        tmp_path: Path, model_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE_DIR", str(model_cache_dir))
    monkeypatch.setenv("ASSISTANT_ENGINE__BACKEND", "onnx")
    monkeypatch.setenv("ASSISTANT_ENGINE__ADAPTER", "billing-tone")
    done = CliRunner().invoke(app, ["prepare"])
    assert done.exit_code == 2
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: ASSISTANT_ENGINE__ADAPTER"), done.stderr
