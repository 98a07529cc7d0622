"""Backend registry: name -> "module:Class", imported only when chosen.

Heavy optional imports (torch, vllm, openai) stay inside each backend's own module, so
`fake` runs without them. `create_backend(settings)` resolves `auto` (`resolve_backend_name`):
vllm when it is installed; else, on a CPU with no LoRA adapter registered, onnx; else transformers.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.engine.backends import base
from assistant.engine.backends.base import (
    QUEUE_SIZE,
    AdapterNotFound,
    Backend,
    BackendError,
    Generation,
    GenerationRequest,
    QueueFull,
    SamplingParams,
)

if TYPE_CHECKING:
    from assistant.engine.settings import EngineConfig, Settings

__all__ = [
    "QUEUE_SIZE",
    "AdapterNotFound",
    "Backend",
    "QueueFull",
    "BackendError",
    "Generation",
    "GenerationRequest",
    "SamplingParams",
    "available_backends",
    "create_backend",
    "register_backend",
    "resolve_backend_name",
]

_REGISTRY: dict[str, str] = {
    "fake": "assistant.engine.backends.fake:FakeBackend",
    "transformers": "assistant.engine.backends.transformers:TransformersBackend",
    "onnx": "assistant.engine.backends.onnx_genai:OnnxBackend",
    "vllm": "assistant.engine.backends.vllm:VLLMBackend",
    "openai": "assistant.engine.backends.openai:OpenAIBackend",
}


def register_backend(name: str, target: str) -> None:
    """Plug in a third-party backend: `register_backend("mine", "pkg.module:MyBackend")`."""
    _REGISTRY[name] = target


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def _vllm_usable() -> bool:
    return importlib.util.find_spec("vllm") is not None


def _serves_adapters(engine: EngineConfig) -> bool:
    """A default adapter is set, or adapters_dir holds a registered one (a folder per adapter)."""
    root = Path(engine.adapters_dir)
    return bool(engine.adapter) or (
        root.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir())
    )


def _on_cpu(device: str) -> bool:
    if device != "auto":
        return device == "cpu"
    try:
        import torch
    except ImportError:
        return True
    return not torch.cuda.is_available()


def resolve_backend_name(name: str, engine: EngineConfig | None = None) -> str:
    """`auto`: vllm where installed; else onnx on a CPU when no LoRA adapter is registered; else transformers.

    On a CPU, onnxruntime-genai's Engine (onnx) decodes the embedded model several times faster than
    llama.cpp and transformers (docs/benchmarks.md, "Engines") and batches chats; it serves no LoRA
    adapters, hence the rule.
    """
    if name != "auto":
        return name
    if _vllm_usable():
        return "vllm"
    if (
        engine is not None
        and importlib.util.find_spec("onnxruntime_genai") is not None
        and _on_cpu(base.DEVICE)
        and not _serves_adapters(engine)
    ):
        return "onnx"
    return "transformers"


def create_backend(settings: Settings) -> Backend:
    """Instantiate (but do not start) the configured backend. Unknown names fail here, loudly."""
    name = resolve_backend_name(settings.engine.backend, settings.engine)
    if name not in _REGISTRY:
        raise BackendError(f"ASSISTANT_ENGINE__BACKEND: unknown backend {name!r}; choose one of: auto, "
                           f"{', '.join(available_backends())}")
    module_name, _, cls_name = _REGISTRY[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"backend {name!r} is not installed here ({exc}). See README 'Engines'.") from exc
    return getattr(module, cls_name)(settings)
