"""Load the base model for training, evaluation and export: the embedded SmolLM2 by default.

The embedded GGUF is converted once into a plain Hugging Face folder (assistant.engine.models),
then loaded in float32 on CPU or bfloat16 on a GPU. The optional QLoRA path (4-bit base) needs a
CUDA GPU and bitsandbytes and says so clearly when either is missing.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.engine.models import ModelNotFound, hf_folder, resolve_chat_model
from assistant.engine.settings import Settings
from finetune.errors import FinetuneError


@dataclass
class LoadedBase:
    model: Any
    tokenizer: Any
    name: str  # short model name recorded with adapters, e.g. "SmolLM2-135M-Instruct"
    folder: Path
    device: str


def resolve_base(spec: str, settings: Settings) -> tuple[str, Path]:
    """(name, local HF folder or hub id) of `spec`, or of the configured chat model when `spec` is empty."""
    try:
        ref = resolve_chat_model(spec or settings.engine.chat_model)
        return ref.name, hf_folder(ref, settings.cache_dir)
    except (ModelNotFound, OSError, ValueError) as exc:
        raise FinetuneError(f"cannot load the base model: {exc}") from exc


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise FinetuneError("device 'cuda' was requested but no CUDA GPU is available")
    return device


def use_bf16(bf16: str, device: str) -> bool:
    import torch

    if bf16 == "auto":
        return device == "cuda" and torch.cuda.is_bf16_supported()
    if bf16 == "on" and device != "cuda":
        raise FinetuneError("bf16 training needs a CUDA GPU here; use --bf16 auto or off on CPU")
    return bf16 == "on"


def check_qlora(device: str) -> None:
    if device != "cuda":
        raise FinetuneError("QLoRA (4-bit base) needs a CUDA GPU; none is available. Train without --qlora.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise FinetuneError("QLoRA needs bitsandbytes: `pip install bitsandbytes`, or train without --qlora.")


def load_base(spec: str, settings: Settings, *, device: str = "auto", bf16: str = "auto",
              qlora: bool = False) -> LoadedBase:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = pick_device(device)
    name, folder = resolve_base(spec, settings)
    dtype = torch.bfloat16 if use_bf16(bf16, device) else torch.float32
    kwargs: dict[str, Any] = {"dtype": dtype}
    if qlora:
        check_qlora(device)
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    except OSError as exc:
        raise FinetuneError(f"cannot load the base model from {folder}: {exc}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not qlora:
        model = model.to(device)
    return LoadedBase(model, tokenizer, name, Path(folder), device)
