"""Sentence-transformers embeddings: batched, L2-normalised float32, with a progress bar for long ingests.

On a CPU the default runtime is ONNX Runtime in float32 (retrieval/onnx_encoder.py) when
onnxruntime is installed: the same vectors as torch (within 2e-4), about 2.2x its ingestion speed
and a third of its query-embedding time on 2 cores. `onnx-int8` doubles ingestion speed again but
is opt-in: its calibrated scores move by ~0.01 at the median (up to 0.2) against float32, which flips abstention
decisions near `understanding.min_retrieval_score`, and they differ between CPUs (ONNX Runtime
picks its int8 kernels by instruction set), so the same eval gave different answers on two
machines (`git show da3aaf9:docs/benchmarks.md`, "Float32 query and passage vectors"). Small batches pad least:
on 2 cores, token-count-sorted onnx-int8 batches of 4/8/16/32 texts embedded 185/182/175/162
chunks/s (batches of 16 sorted by characters: 157), so onnx defaults to 4 and torch to 16.

`fingerprint` (the embedding of a fixed probe sentence) identifies the model independently of
where its folder lives, so an index can refuse a different model with a clear message.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from retrieval.errors import RetrievalError

log = logging.getLogger(__name__)
PROBE = "Where is my order? 我的订单在哪里？"
_PROGRESS_MIN = 256  # below this, a bar is noise


def model_name(spec: str) -> str:
    """A human name for a model folder or hub id: the README's first heading, else the folder name."""
    path = Path(spec).expanduser()
    if path.is_dir():
        readme = path / "README.md"
        if readme.exists():
            match = re.search(r"^#\s+(\S.*)$", readme.read_text(errors="replace"), re.M)
            if match:
                return match.group(1).strip()
        return path.parent.name if path.name == "model" else path.name
    return spec.rsplit("/", 1)[-1]


class Embedder:
    """Loads a sentence-transformers model from a local folder (or hub id where a hub is reachable)."""

    def __init__(
        self,
        spec: str,
        device: str = "cpu",
        batch_size: int = 0,
        backend: str = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        if backend not in ("auto", "torch", "onnx", "onnx-int8"):
            raise RetrievalError(f"unknown embed_backend {backend!r}: auto | torch | onnx | onnx-int8")
        if backend.startswith("onnx") and device != "cpu":
            raise RetrievalError(f"embed_backend {backend} runs on the CPU; use embed_backend=torch on {device}")
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        path = Path(spec).expanduser()
        if spec.startswith((".", "/", "~")) and not path.exists():
            raise RetrievalError(f"embedding model folder not found: {spec}")
        try:
            self.model = SentenceTransformer(str(path) if path.exists() else spec, device=device)
        except Exception as exc:
            raise RetrievalError(f"cannot load embedding model {spec!r}: {exc}") from exc
        self.spec = spec
        self.name = model_name(spec)
        self._onnx = None
        if backend == "auto":
            backend = self._auto_backend(device, path, cache_dir)
        elif backend in ("onnx", "onnx-int8"):
            if not path.is_dir():
                raise RetrievalError(f"embed_backend {backend} needs a local model folder, not {spec!r}")
            from retrieval.onnx_encoder import OnnxEncoder

            self._onnx = OnnxEncoder(self.model, path, cache_dir, quantize=backend == "onnx-int8")
        self.backend = backend
        self.batch_size = batch_size or (128 if self.model.device.type != "cpu" else 4 if self._onnx else 16)
        self._pieces: dict[str, int] = {}
        dims = (
            self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else None
        )
        self.dims = int(dims or self.model.get_sentence_embedding_dimension())
        self.fingerprint = self.encode([PROBE])[0]

    def _auto_backend(self, device: str, path: Path, cache_dir: Path | None) -> str:
        """Float32 onnx on a CPU with onnxruntime installed and a local model folder, else torch."""
        if device != "cpu" or not path.is_dir() or importlib.util.find_spec("onnxruntime") is None:
            return "torch"
        from retrieval.onnx_encoder import OnnxEncoder

        try:
            self._onnx = OnnxEncoder(self.model, path, cache_dir, quantize=False)
        except RetrievalError as exc:
            log.warning("embeddings fall back to torch: %s", exc)
            return "torch"
        return "onnx"

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """(len(texts), dims) float32, unit length. Sorted by length so batches pad little."""
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        step = max(self.batch_size, 1)
        show = progress and len(texts) >= _PROGRESS_MIN
        with tqdm(total=len(texts), desc="embedding", unit="chunk", disable=not show) as bar:
            for idx, vecs in self._batches(texts, step):
                out[idx] = vecs
                bar.update(len(idx))
        return out

    def _batches(self, texts: list[str], step: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(indices, unit vectors) per batch; onnx sorts by token count itself."""
        if self._onnx is not None:
            for idx, vecs in self._onnx.encode_many(texts, step):
                yield idx, vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            return
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), step):
            idx = order[start : start + step]
            vecs = self.model.encode(
                [texts[i] for i in idx], batch_size=step, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
            yield idx, vecs.astype(np.float32, copy=False)

    def fragments(self, word: str) -> int:
        """Sub-word pieces the model's tokenizer splits `word` into (1 = a word the model knows whole)."""
        cached = self._pieces.get(word)
        if cached is None:
            tokenizer = getattr(self.model, "tokenizer", None)
            cached = len(tokenizer.tokenize(word)) if tokenizer is not None else 1
            if len(self._pieces) < 100_000:
                self._pieces[word] = cached
        return cached

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query])[0]
