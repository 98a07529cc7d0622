"""How `auto` picks an engine, and the registry's refusals (no model is loaded).

    pytest tests/assistant/engine/backends/test_registry.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

import assistant.engine.backends as backends
from assistant.engine.backends import BackendError, base, create_backend, resolve_backend_name
from assistant.engine.settings import EngineConfig, Settings


@pytest.fixture
def no_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "_vllm_usable", lambda: False)


@pytest.fixture(autouse=True)
def on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's device as `auto` finds it: a CPU here, whatever the test host has."""
    monkeypatch.setattr(base, "DEVICE", "cpu")


def test_auto_is_onnx_on_a_cpu_without_adapters(no_vllm: None, tmp_path: Path) -> None:
    engine = EngineConfig(adapters_dir=tmp_path / "adapters")
    assert resolve_backend_name("auto", engine) == "onnx"
    (tmp_path / "adapters" / ".tmp-half-written").mkdir(parents=True)  # not a registered adapter
    assert resolve_backend_name("auto", engine) == "onnx"


def test_auto_is_transformers_where_onnx_cannot_serve(no_vllm: None, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "adapters" / "support-v1").mkdir(parents=True)
    registered = EngineConfig(adapters_dir=tmp_path / "adapters")
    assert resolve_backend_name("auto", registered) == "transformers"
    default_adapter = EngineConfig(adapter="support-v1", adapters_dir=tmp_path / "none")
    assert resolve_backend_name("auto", default_adapter) == "transformers"
    monkeypatch.setattr(base, "DEVICE", "cuda")
    assert resolve_backend_name("auto", EngineConfig(adapters_dir=tmp_path / "none")) == "transformers"


def test_auto_prefers_vllm_and_explicit_names_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    engine = EngineConfig(adapters_dir=tmp_path / "none")
    monkeypatch.setattr(backends, "_vllm_usable", lambda: True)
    assert resolve_backend_name("auto", engine) == "vllm"
    assert resolve_backend_name("transformers", engine) == "transformers"


def test_create_backend_resolves_auto_and_refuses_unknown_names(no_vllm: None, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, engine={"adapters_dir": tmp_path / "none"})
    assert type(create_backend(settings)).__name__ == "OnnxBackend"  # created, not started: nothing loads
    with pytest.raises(BackendError, match="unknown backend 'tensorrt'"):
        create_backend(Settings(data_dir=tmp_path, engine={"backend": "tensorrt"}))
