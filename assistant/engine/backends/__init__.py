"""Backend registry: name -> "module:Class", imported only when chosen.

Heavy optional imports (torch, vllm, openai) stay inside each backend's own module, so
`fake` runs without them. `create_backend(settings)` resolves `auto`: vllm when it is
installed and usable, else transformers.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from assistant.engine.backends.base import (
    AdapterNotFound,
    Backend,
    BackendError,
    Generation,
    GenerationRequest,
    SamplingParams,
)

if TYPE_CHECKING:
    from assistant.engine.settings import Settings

__all__ = [
    "AdapterNotFound",
    "Backend",
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


def resolve_backend_name(name: str) -> str:
    if name != "auto":
        return name
    return "vllm" if _vllm_usable() else "transformers"


def create_backend(settings: Settings) -> Backend:
    """Instantiate (but do not start) the configured backend. Unknown names fail here, loudly."""
    name = resolve_backend_name(settings.engine.backend)
    if name not in _REGISTRY:
        raise BackendError(f"unknown backend {name!r}; choose one of: auto, {', '.join(available_backends())}")
    module_name, _, cls_name = _REGISTRY[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"backend {name!r} is not installed here ({exc}). See README 'Engines'.") from exc
    return getattr(module, cls_name)(settings)
