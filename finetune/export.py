"""Merge a LoRA adapter into its base model and save full safetensors weights for deployment.

    python -m finetune.export --adapter support-lora --output_dir var/export/support-lora
    # or: assistant finetune export --adapter support-lora --output_dir ...

The result is a plain Hugging Face folder (config, model.safetensors, tokenizer) that any engine
can serve without peft, e.g. ASSISTANT_ENGINE__CHAT_MODEL=var/export/support-lora.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from assistant.engine.settings import Settings
from finetune import adapters
from finetune.arguments import parse_options
from finetune.base_model import load_base
from finetune.errors import FinetuneError


@dataclass
class ExportOptions:
    adapter: str = field(default="", metadata={"help": "Registered adapter name, or a path to an adapter folder."})
    output_dir: str = field(default="", metadata={"help": "Folder for the merged model; empty = var/export/NAME."})
    adapters_dir: str = field(default="", metadata={"help": "Adapter registry; empty = settings engine.adapters_dir."})
    base_model: str = field(default="", metadata={"help": "Base model; empty = the configured chat model."})
    dtype: Literal["bfloat16", "float16", "float32"] = field(default="bfloat16", metadata={
        "help": "Dtype of the saved weights (merging itself runs in float32)."})
    overwrite: bool = field(default=False, metadata={"help": "Replace an existing output folder."})


def resolve_adapter(spec: str, adapters_dir: Path) -> Path:
    if not spec:
        raise FinetuneError("name the adapter to export: --adapter NAME (registered) or --adapter PATH")
    path = Path(spec)
    if (path / "adapter_config.json").is_file():
        return path
    registered = adapters_dir / spec
    if (registered / "adapter_config.json").is_file():
        return registered
    names = [a["name"] for a in adapters.list_adapters(adapters_dir)]
    raise FinetuneError(f"no adapter {spec!r} (not a folder, not registered in {adapters_dir}; "
                        f"registered: {', '.join(names) or 'none'})")


def export(options: ExportOptions, settings: Settings | None = None) -> dict[str, Any]:
    import torch

    settings = settings or Settings()
    registry = Path(options.adapters_dir) if options.adapters_dir else settings.engine.adapters_dir
    adapter_dir = resolve_adapter(options.adapter, registry)
    out = Path(options.output_dir or settings.data_dir / "export" / adapter_dir.name)
    if out.exists() and not options.overwrite:
        raise FinetuneError(f"{out} already exists; pass --overwrite or choose another --output_dir")
    base = load_base(options.base_model, settings, device="cpu", bf16="off")
    model = adapters.load_adapter(base.model, adapter_dir)
    merged = model.merge_and_unload()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.to(getattr(torch, options.dtype)).save_pretrained(tmp, safe_serialization=True)
    base.tokenizer.save_pretrained(tmp)
    info = {"adapter": str(adapter_dir), "base_model": base.name, "dtype": options.dtype,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "adapter_metadata": adapters.read_metadata(adapter_dir) or {}}
    (tmp / "export.json").write_text(json.dumps(info, indent=2, default=str))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {"output_dir": str(out), **info}


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(ExportOptions, argv, "Merge an adapter into full weights (see finetune/export.py).")
        info = export(options)
    except FinetuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"merged {info['adapter']} into {info['base_model']}: {info['output_dir']} ({info['dtype']} safetensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
