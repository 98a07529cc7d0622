"""A sentence-transformers encoder run on ONNX Runtime, in float32 or with int8 weights, for faster CPU ingestion.

On 2 cores the float32 graph ingests ~2.2x faster than PyTorch with the same vectors (within 2e-4);
per-channel int8 MatMul weights double that again, with embeddings at cosine ~0.99 to the float ones
but scores that differ between CPUs, so int8 is opt-in (bench/retrieval_speed.py, bench/retrieval_precision.py).

The graph is exported once per model folder (TorchScript exporter, eager attention so the
graph is plain MatMul/Softmax) and cached under `cache_dir/<digest>/`; mean or CLS pooling
follows in numpy, from the model's own sentence-transformers modules (the caller normalises).
`folder_digest`, `export_graph` and `open_session` are shared with the live classification
graph (assistant/engine/understanding/live_graph.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import RetrievalError

_FORMAT = "1"


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "customer-assistant" / "onnx"


def folder_digest(model_dir: Path, *extra: object) -> hashlib._Hash:
    """A running hash of a model folder (file names, sizes, times), the runtimes' versions and `extra`."""
    import onnxruntime
    import torch

    h = hashlib.sha256("|".join(map(str, (_FORMAT, onnxruntime.__version__, torch.__version__, *extra))).encode())
    for f in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(model_dir)}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h


def export_graph(
    module: Any,
    inputs: tuple,
    folder: Path,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
    quantize: bool = False,
) -> None:
    """Export `module` to `folder/model.onnx` (int8 MatMul weights with `quantize`).

    Written into a temporary folder that is renamed into place: a reader never sees half a file,
    and of two processes exporting at once the second keeps the first one's result.
    """
    import torch

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".export-"))
    root_level = logging.getLogger().level
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, inputs, str(tmp / "float.onnx"), input_names=input_names, output_names=output_names,
                dynamic_axes=dynamic_axes, opset_version=17, dynamo=False,
            )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            logging.getLogger().setLevel(max(root_level, logging.ERROR))  # its advice goes to the root logger
            # MatMul only: quantising the embedding Gather and attention costs accuracy and, on AVX2, speed.
            quantize_dynamic(
                tmp / "float.onnx", tmp / "model.onnx", weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=["MatMul"], extra_options={"DefaultTensorType": 1},
            )
            (tmp / "float.onnx").unlink()
        else:
            (tmp / "float.onnx").rename(tmp / "model.onnx")
        try:
            tmp.rename(folder)
        except OSError:  # another process exported it first; theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        logging.getLogger().setLevel(root_level)


def open_session(path: Path, threads: int | None = None) -> Any:
    """A CPU inference session with `threads` threads, default as many as torch uses (OMP_NUM_THREADS)."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or max(torch.get_num_threads(), 1)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Encodes with the transformer of a loaded SentenceTransformer, exported to ONNX."""

    def __init__(
        self, st_model: Any, model_dir: Path, cache_dir: Path | None = None, quantize: bool = False
    ) -> None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise RetrievalError(
                "embed_backend onnx needs onnxruntime (pip install onnxruntime onnx), or use embed_backend=torch"
            ) from exc
        modules = list(st_model)
        kinds = [type(m).__name__ for m in modules]
        if not kinds or kinds[0] != "Transformer" or not set(kinds[1:]) <= {"Pooling", "Normalize"}:
            raise RetrievalError(f"the onnx embedding backend supports Transformer+Pooling models only, not {kinds}")
        pooling = next((m for m in modules if type(m).__name__ == "Pooling"), None)
        mode = getattr(pooling, "pooling_mode", None) or (
            "cls" if getattr(pooling, "pooling_mode_cls_token", False) else "mean"
        )
        if mode not in ("mean", "cls"):
            raise RetrievalError(f"the onnx embedding backend supports mean or CLS pooling, not {mode!r}")
        self.mode = mode
        self.tokenizer = st_model.tokenizer
        self.max_length = int(st_model.max_seq_length or 512)
        folder = (cache_dir or default_cache_dir()) / folder_digest(model_dir, quantize).hexdigest()[:16]
        if not (folder / "model.onnx").exists():
            self._export(modules[0].auto_model, folder, quantize)
        self.path = folder / "model.onnx"
        self.session = open_session(self.path)
        self.inputs = [i.name for i in self.session.get_inputs()]
        import torch

        self.workers = max(torch.get_num_threads(), 1)
        self._bulk: Any = None  # one-thread session shared by the bulk workers, opened on first use
        self._splitter: Any = None  # the bulk path's own fast tokenizer, made on first use
        self.pad_id = int(self.tokenizer.pad_token_id or 0)

    def _export(self, model: Any, folder: Path, quantize: bool) -> None:
        import torch

        sample = self.tokenizer(["hello world", "a slightly longer sentence"], padding=True, return_tensors="pt")
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

        class Body(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *args: torch.Tensor) -> torch.Tensor:
                return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

        previous = getattr(model.config, "_attn_implementation", None)
        try:
            # SDPA exports as a pattern ONNX Runtime neither fuses nor quantises well; eager is plain MatMuls.
            if hasattr(model, "set_attn_implementation"):
                model.set_attn_implementation("eager")
            export_graph(
                Body(model).eval(), tuple(sample[n] for n in names), folder, names, ["hidden"],
                {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}, quantize=quantize,
            )
        except Exception as exc:
            raise RetrievalError(f"cannot export the embedding model to ONNX: {exc}") from exc
        finally:
            if previous and hasattr(model, "set_attn_implementation"):
                model.set_attn_implementation(previous)

    def _run(self, enc: Any, session: Any) -> np.ndarray:
        hidden = session.run(None, {n: enc[n].astype(np.int64) for n in self.inputs})[0]
        if self.mode == "cls":
            return hidden[:, 0].astype(np.float32, copy=False)
        mask = enc["attention_mask"][..., None].astype(np.float32)
        return ((hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)).astype(np.float32, copy=False)

    def encode_many(self, texts: list[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Many texts as (indices, pooled vectors) pairs, in batches of equal or near-equal token count.

        Texts are tokenised a window at a time and sorted by token count, so a batch pads almost
        nothing (sorting by characters left ~10% of every batch padding). Each core runs whole
        batches on a one-thread session: split across cores, ORT's threads spend part of every small
        MatMul waiting for each other. A single query keeps the multi-threaded session.
        """
        window = max(batch_size, 1) * 256  # bounded: a huge ingest is not tokenised up front
        for start in range(0, len(texts), window):
            ids = self._token_ids(texts[start : start + window])
            order = np.argsort([-len(row) for row in ids], kind="stable")
            batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
            feeds = (self._feed([ids[i] for i in idx]) for idx in batches)
            for idx, vecs in zip(batches, self._run_all(feeds, len(batches)), strict=True):
                yield idx + start, vecs

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        if self._splitter is None:
            # a private copy: the shared one is re-configured per call by transformers and is not
            # safe to use from two threads at once ("Already borrowed")
            from tokenizers import Tokenizer

            self._splitter = Tokenizer.from_str(self.tokenizer.backend_tokenizer.to_str())
            self._splitter.no_padding()
            self._splitter.enable_truncation(self.max_length)
        return [e.ids for e in self._splitter.encode_batch(texts)]

    def _feed(self, rows: list[list[int]]) -> dict[str, np.ndarray]:
        width = max(map(len, rows))
        input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}

    def _run_all(self, feeds: Iterator[dict[str, np.ndarray]], count: int) -> Iterator[np.ndarray]:
        if self.workers < 2 or count < 2:
            yield from (self._run(feed, self.session) for feed in feeds)
            return
        if self._bulk is None:
            self._bulk = open_session(self.path, threads=1)  # Run() is thread-safe: one session serves all
        pending: deque[Future[np.ndarray]] = deque()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="embed") as pool:
            for feed in feeds:
                pending.append(pool.submit(self._run, feed, self._bulk))
                if len(pending) > self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
