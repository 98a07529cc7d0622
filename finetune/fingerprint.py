"""Base-model fingerprints: architecture numbers plus statistics of the embedding matrix.

Adapters record the fingerprint of the model they were trained on. The architecture part catches
a different model family or size; the weight part catches a same-shaped but different checkpoint
(SmolLM2-135M base vs Instruct), where a LoRA would load silently and produce nonsense. Weight
statistics survive a float32 <-> bfloat16 cast, so a model served in another dtype still matches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ARCH_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
             "intermediate_size", "vocab_size")
_ROWS = 512  # embedding rows summarised: enough to tell checkpoints apart, cheap to read
_REL_TOL = 2e-3


def _arch(config: Any) -> dict[str, Any]:
    get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
    text = get("text_config")  # multimodal configs nest the language model's numbers
    if text is not None and get("hidden_size") is None:
        return _arch(text)
    return {k: get(k) for k in ARCH_KEYS if get(k) is not None}


def _stats(matrix: Any) -> list[float]:
    import torch

    rows = matrix[:_ROWS].to(torch.float64)
    return [round(float(rows.mean()), 10), round(float(rows.abs().mean()), 10), round(float(rows.std()), 10)]


def from_model(model: Any) -> dict[str, Any]:
    """Fingerprint of a loaded (possibly peft-wrapped) causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    weights = None
    embeddings = base.get_input_embeddings()
    if embeddings is not None and getattr(embeddings.weight, "dtype", None) is not None \
            and embeddings.weight.dtype.is_floating_point:
        weights = _stats(embeddings.weight.detach())
    return {"arch": _arch(base.config), "embedding_stats": weights}


def from_folder(folder: Path) -> dict[str, Any] | None:
    """Fingerprint of a Hugging Face folder without loading the model; None when it is not a local folder."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        return None
    arch = _arch(json.loads(config_path.read_text()))
    weights = None
    files: dict[str, str] = {}
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = json.loads(index.read_text()).get("weight_map", {})
    elif (folder / "model.safetensors").is_file():
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), framework="pt") as handle:
            files = {k: "model.safetensors" for k in handle.keys()}  # noqa: SIM118 - safe_open is not a dict
    key = next((k for k in files if k.endswith("embed_tokens.weight")), None)
    if key is not None:
        from safetensors import safe_open

        with safe_open(str(folder / files[key]), framework="pt") as handle:
            weights = _stats(handle.get_slice(key)[:_ROWS])
    return {"arch": arch, "embedding_stats": weights}


def mismatch(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """Why two fingerprints differ, or None when they describe the same base model."""
    for key, value in expected.get("arch", {}).items():
        other = actual.get("arch", {}).get(key)
        if other is not None and other != value:
            return f"{key} is {other} but the adapter was trained on a model with {key} = {value}"
    a, b = expected.get("embedding_stats"), actual.get("embedding_stats")
    if a and b:
        for x, y in zip(a, b, strict=True):
            if abs(x - y) > _REL_TOL * max(abs(x), abs(y), 1e-6):
                return "same architecture but different weights (embedding statistics differ)"
    return None
