"""A sentence-transformers encoder run on ONNX Runtime, optionally with int8 weights, for faster CPU ingestion.

On two AVX2 cores the PyTorch MiniLM is arithmetic-bound (~70 chunks/s of 200 characters);
the same graph on ONNX Runtime with per-channel int8 MatMul weights runs about twice as fast,
with embeddings at cosine ~0.99 to the float ones (measured in bench/retrieval_speed.py).

The graph is exported once per model folder (TorchScript exporter, eager attention so the
graph is plain MatMul/Softmax) and cached under `cache_dir/<digest>/`; the pooling and
normalisation that follow the transformer are done here in numpy, from the model's own
sentence-transformers modules, so only mean- or CLS-pooled models are accepted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import RetrievalError

_FORMAT = "1"


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "customer-assistant" / "onnx"


def _digest(model_dir: Path, quantize: bool) -> str:
    import onnxruntime
    import torch

    h = hashlib.sha256(f"{_FORMAT}|{quantize}|{onnxruntime.__version__}|{torch.__version__}".encode())
    for f in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(model_dir)}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


class OnnxEncoder:
    """Encodes with the transformer of a loaded SentenceTransformer, exported to ONNX."""

    def __init__(
        self, st_model: Any, model_dir: Path, cache_dir: Path | None = None, quantize: bool = True
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise RetrievalError(
                "embed_backend onnx needs onnxruntime (pip install onnxruntime onnx), or use embed_backend=torch"
            ) from exc
        modules = list(st_model)
        kinds = [type(m).__name__ for m in modules]
        if not kinds or kinds[0] != "Transformer" or not set(kinds[1:]) <= {"Pooling", "Normalize"}:
            raise RetrievalError(
                f"the onnx embedding backend supports Transformer+Pooling models only, not {kinds}"
            )
        pooling = next((m for m in modules if type(m).__name__ == "Pooling"), None)
        mode = getattr(pooling, "pooling_mode", None) or (
            "cls" if getattr(pooling, "pooling_mode_cls_token", False) else "mean"
        )
        if mode not in ("mean", "cls"):
            raise RetrievalError(f"the onnx embedding backend supports mean or CLS pooling, not {mode!r}")
        self.mode = mode
        self.normalize = "Normalize" in kinds
        self.tokenizer = st_model.tokenizer
        self.max_length = int(st_model.max_seq_length or 512)
        self.quantize = quantize
        folder = (cache_dir or default_cache_dir()) / _digest(model_dir, quantize)
        if not (folder / "model.onnx").exists():
            self._export(modules[0].auto_model, folder)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        import torch

        options.intra_op_num_threads = max(torch.get_num_threads(), 1)
        self.session = ort.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _export(self, model: Any, folder: Path) -> None:
        """Export (and quantise) into a temporary folder, then rename it into place: readers never see half a file."""
        import torch

        folder.parent.mkdir(parents=True, exist_ok=True)
        sample = self.tokenizer(
            ["hello world", "a slightly longer sentence"], padding=True, return_tensors="pt"
        )
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

        class Body(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *args: torch.Tensor) -> torch.Tensor:
                return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

        previous = getattr(model.config, "_attn_implementation", None)
        root_level = logging.getLogger().level
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".export-"))
        try:
            # SDPA exports as a pattern ONNX Runtime neither fuses nor quantises well; eager is plain MatMuls.
            if hasattr(model, "set_attn_implementation"):
                model.set_attn_implementation("eager")
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    Body(model).eval(),
                    tuple(sample[n] for n in names),
                    str(tmp / "float.onnx"),
                    input_names=names,
                    output_names=["hidden"],
                    dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
                    opset_version=17,
                    dynamo=False,
                )
            if self.quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                logging.getLogger().setLevel(
                    max(root_level, logging.ERROR)
                )  # its advice goes to the root logger

                # MatMul only: quantising the embedding Gather and attention costs accuracy and, on AVX2, speed.
                quantize_dynamic(
                    tmp / "float.onnx",
                    tmp / "model.onnx",
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    extra_options={"DefaultTensorType": 1},
                )
                (tmp / "float.onnx").unlink()
            else:
                (tmp / "float.onnx").rename(tmp / "model.onnx")
            try:
                tmp.rename(folder)
            except OSError:  # another process exported it first; theirs is as good
                shutil.rmtree(tmp, ignore_errors=True)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RetrievalError(f"cannot export the embedding model to ONNX: {exc}") from exc
        finally:
            logging.getLogger().setLevel(root_level)
            if previous and hasattr(model, "set_attn_implementation"):
                model.set_attn_implementation(previous)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One batch: (len(texts), dims) float32, pooled (and unit length where the model normalises)."""
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        feed = {n: enc[n].astype(np.int64) for n in self.inputs}
        hidden = self.session.run(None, feed)[0]
        if self.mode == "cls":
            vecs = hidden[:, 0]
        else:
            mask = enc["attention_mask"][..., None].astype(np.float32)
            vecs = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        if self.normalize:
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs.astype(np.float32, copy=False)
