"""The adapter registry: adapters/NAME/ holds a peft adapter plus metadata.json; rejected ones are set aside.

Serving calls `check_adapter(base_folder, adapter_dir)` before loading, or `load_adapter(model, path)`
which checks and wraps the model in a PeftModel. An adapter trained on another base model is refused
with a message naming both models, instead of loading silently and generating nonsense.

    adapters/support-lora/{adapter_config.json, adapter_model.safetensors, metadata.json, report.md}
    adapters/.rejected/support-lora-20250101T120000/...   (kept for inspection, never served)
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finetune import fingerprint
from finetune.errors import AdapterMismatch, FinetuneError

METADATA = "metadata.json"
REJECTED = ".rejected"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise FinetuneError(f"invalid adapter name {name!r}: use letters, digits, '.', '_' or '-' (max 64)")
    return name


def read_metadata(adapter_dir: Path) -> dict[str, Any] | None:
    path = Path(adapter_dir) / METADATA
    return json.loads(path.read_text()) if path.is_file() else None


def _require_adapter(adapter_dir: Path) -> None:
    if not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise FinetuneError(f"{adapter_dir} is not a LoRA adapter folder (no adapter_config.json)")


def _mismatch_message(adapter_dir: Path, meta: dict[str, Any], base: str, reason: str) -> str:
    return (f"adapter {adapter_dir} was trained on base model {meta.get('base_model', '?')!r} and cannot be "
            f"loaded on {base}: {reason}")


def check_adapter(base_model_name_or_path: str | Path, adapter_dir: str | Path) -> dict[str, Any] | None:
    """Raise AdapterMismatch when `adapter_dir` was trained on a different base; returns its metadata."""
    adapter_dir = Path(adapter_dir)
    _require_adapter(adapter_dir)
    meta = read_metadata(adapter_dir)
    if not meta or not meta.get("base_fingerprint"):
        return meta  # a foreign peft adapter: peft's own shape checks are all we have
    actual = fingerprint.from_folder(Path(base_model_name_or_path))
    if actual is None:  # a hub id or GGUF file: only the name can be compared
        name = str(base_model_name_or_path).rstrip("/").rsplit("/", 1)[-1].removesuffix(".gguf")
        if meta.get("base_model") and not name.startswith(meta["base_model"]):
            raise AdapterMismatch(_mismatch_message(adapter_dir, meta, str(base_model_name_or_path),
                                                    "the model names differ"))
        return meta
    reason = fingerprint.mismatch(meta["base_fingerprint"], actual)
    if reason:
        raise AdapterMismatch(_mismatch_message(adapter_dir, meta, str(base_model_name_or_path), reason))
    return meta


def load_adapter(model: Any, path: str | Path, adapter_name: str = "default", is_trainable: bool = False) -> Any:
    """Wrap `model` in a PeftModel with the adapter at `path`, after checking it belongs to this base model."""
    from peft import PeftModel

    path = Path(path)
    _require_adapter(path)
    meta = read_metadata(path)
    if meta and meta.get("base_fingerprint"):
        reason = fingerprint.mismatch(meta["base_fingerprint"], fingerprint.from_model(model))
        if reason:
            base = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
            raise AdapterMismatch(_mismatch_message(path, meta, base, reason))
    try:
        return PeftModel.from_pretrained(model, str(path), adapter_name=adapter_name, is_trainable=is_trainable)
    except (RuntimeError, ValueError, KeyError) as exc:  # shape or module mismatches from peft/torch
        raise AdapterMismatch(f"adapter {path} does not fit this base model: {str(exc).splitlines()[0]}") from exc


def _copy_atomically(source: Path, target: Path, metadata: dict[str, Any], extra: dict[str, Path]) -> Path:
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    for name, path in extra.items():
        if Path(path).is_file():
            shutil.copy2(path, tmp / name)
    (tmp / METADATA).write_text(json.dumps(metadata, indent=2, default=str))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def register(adapter_dir: Path, name: str, adapters_dir: Path, metadata: dict[str, Any], *,
             overwrite: bool = False, extra: dict[str, Path] | None = None) -> Path:
    """Copy a promoted adapter to adapters_dir/NAME with its metadata (atomic: a reader never sees half of it)."""
    _require_adapter(adapter_dir)
    target = Path(adapters_dir) / validate_name(name)
    if target.exists() and not overwrite:
        raise FinetuneError(f"adapter {name!r} is already registered in {adapters_dir}; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    return _copy_atomically(adapter_dir, target, metadata, extra or {})


def set_aside(adapter_dir: Path, name: str, adapters_dir: Path, metadata: dict[str, Any], *,
              extra: dict[str, Path] | None = None) -> Path:
    """Keep a rejected adapter under adapters_dir/.rejected/NAME-<time>, where no backend looks for adapters."""
    _require_adapter(adapter_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = Path(adapters_dir) / REJECTED / f"{validate_name(name)}-{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    return _copy_atomically(adapter_dir, target, metadata, extra or {})


def list_adapters(adapters_dir: Path) -> list[dict[str, Any]]:
    """Registered adapters with their metadata (name, base model, date, metrics)."""
    root = Path(adapters_dir)
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        if child.name != REJECTED and (child / "adapter_config.json").is_file():
            found.append({"name": child.name, "path": str(child), **(read_metadata(child) or {})})
    return found
