"""The ONNX Runtime embedding runtimes against the PyTorch one, on the real MiniLM.

    pytest tests/retrieval/test_onnx_encoder.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import Document, RetrievalConfig, Retriever
from retrieval.embedder import Embedder
from retrieval.errors import RetrievalError

TEXTS = [
    "How long does standard shipping take?",
    "Refunds go back to the original payment method within 5-10 business days after we receive the return.",
    "Mi tarjeta fue rechazada en la caja",
    "我的订单在哪里？",
    "x",
]


@pytest.fixture(scope="module")
def model_dir() -> str:
    from assistant.engine.models import resolve_embedding_model

    return resolve_embedding_model("")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_vecs(model_dir: str) -> np.ndarray:
    return Embedder(model_dir, backend="torch").encode(TEXTS)


def test_float_onnx_matches_torch(model_dir: str, cache: Path, torch_vecs: np.ndarray) -> None:
    e = Embedder(model_dir, backend="onnx", cache_dir=cache)
    vecs = e.encode(TEXTS)
    assert e.backend == "onnx"
    np.testing.assert_allclose(vecs, torch_vecs, atol=2e-4)


def test_int8_is_close_to_torch_and_keeps_the_ranking(model_dir: str, cache: Path, torch_vecs: np.ndarray) -> None:
    e = Embedder(model_dir, backend="onnx-int8", cache_dir=cache)
    vecs = e.encode(TEXTS)
    assert vecs.shape == torch_vecs.shape and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(vecs * torch_vecs, axis=1)
    assert cosine.min() > 0.95, cosine
    assert not np.allclose(vecs, torch_vecs, atol=1e-4)  # really the quantised graph, not the float one
    # same nearest text for each text under both runtimes
    assert ((vecs @ vecs.T) - 2 * np.eye(len(TEXTS))).argmax(1).tolist() == (
        (torch_vecs @ torch_vecs.T) - 2 * np.eye(len(TEXTS))
    ).argmax(1).tolist()


def test_export_is_cached_and_auto_picks_float_onnx_on_cpu(model_dir: str, cache: Path) -> None:
    Embedder(model_dir, backend="onnx-int8", cache_dir=cache)
    exported = sorted(cache.glob("*/model.onnx"))
    assert len(exported) == 2  # float and int8, one folder each; nothing half-written left behind
    assert not list(cache.glob(".export-*"))
    stamps = [p.stat().st_mtime_ns for p in exported]
    # float32, not int8: int8 scores shift (median ~0.01) and differ between CPUs (embedder docstring)
    e = Embedder(model_dir, cache_dir=cache)
    assert e.backend == "onnx"
    assert [p.stat().st_mtime_ns for p in exported] == stamps


def test_index_built_with_torch_opens_with_int8(tmp_path: Path, model_dir: str, cache: Path) -> None:
    docs = [
        Document(id="ship", title="Shipping", text="Standard shipping takes 3-5 business days."),
        Document(id="refund", title="Refunds", text="Refunds reach your card within 10 days."),
    ]
    torch_e = Embedder(model_dir, backend="torch")
    Retriever.open(tmp_path / "ix", model_dir, RetrievalConfig(), embedder=torch_e).add_documents(docs)
    int8 = Embedder(model_dir, backend="onnx-int8", cache_dir=cache)
    r = Retriever.open(tmp_path / "ix", model_dir, RetrievalConfig(), embedder=int8)
    assert r.search("when is my money back", k=1)[0].doc_id == "refund"


def test_bad_backend_and_device_are_refused(model_dir: str) -> None:
    with pytest.raises(RetrievalError, match="unknown embed_backend"):
        Embedder(model_dir, backend="tensorrt")
    with pytest.raises(RetrievalError, match="runs on the CPU"):
        Embedder(model_dir, device="cuda", backend="onnx-int8")


def test_bulk_workers_give_the_single_session_vectors_in_order(model_dir: str, cache: Path) -> None:
    e = Embedder(model_dir, backend="onnx-int8", cache_dir=cache, batch_size=2)
    assert e.batch_size == 2 and Embedder(model_dir, backend="torch").batch_size == 16  # 0 = CPU default
    texts = [f"{t} ({n})" for n in range(4) for t in TEXTS]  # 10 batches of 2, on both workers
    e._onnx.workers = 1
    one_by_one = e.encode(texts)
    e._onnx.workers = 2
    bulk = e.encode(texts)
    assert e._onnx._bulk is not None  # the one-thread session really ran them
    np.testing.assert_allclose(bulk, one_by_one, atol=1e-4)
    assert (bulk @ one_by_one.T).argmax(1).tolist() == list(range(len(texts)))


def test_bulk_tokens_match_the_model_tokenizer_and_batches_hold_similar_lengths(model_dir: str, cache: Path) -> None:
    e = Embedder(model_dir, backend="onnx-int8", cache_dir=cache, batch_size=1)
    assert Embedder(model_dir, backend="onnx-int8", cache_dir=cache).batch_size == 4  # the onnx CPU default
    long_text = "Our returns window is thirty days from delivery. " * 60  # past the 256-token limit
    texts = [*TEXTS, long_text]
    # one text per batch, against the model's own (transformers) tokenizer: no padding and no cross-row
    # quantisation, so any difference is tokenisation
    enc = e._onnx
    alone = np.stack([
        enc._run(enc.tokenizer([t], truncation=True, max_length=enc.max_length, return_tensors="np"), enc.session)[0]
        for t in texts
    ])
    alone /= np.linalg.norm(alone, axis=1, keepdims=True)
    np.testing.assert_allclose(e.encode(texts), alone, atol=1e-6)
    lengths = [len(ids) for ids in e._onnx._token_ids(texts)]
    assert max(lengths) == e._onnx.max_length and min(lengths) == 3  # "x" = [CLS] x [SEP]
    widths = [len(idx) for idx, _ in e._onnx.encode_many([f"{t} {n}" for n in range(3) for t in texts], 4)]
    assert widths == [4, 4, 4, 4, 2]
    batches = [sorted(idx.tolist()) for idx, _ in e._onnx.encode_many(texts * 2, 2)]
    assert batches[0] == [len(texts) - 1, 2 * len(texts) - 1]  # longest first: the two long copies together
