"""Retrieval layer: ingest documents, index them (FAISS + BM25) and search them. Never imports `assistant`.

from retrieval import Retriever, Hit, IngestReport, Document
"""

from retrieval.config import RetrievalConfig
from retrieval.errors import (
    EmbeddingModelMismatch,
    IndexCorrupt,
    InvalidRequest,
    LoaderError,
    RetrievalError,
)
from retrieval.retriever import MODES, Retriever
from retrieval.schema import Document, Hit, IngestReport

__all__ = [
    "MODES",
    "Document",
    "EmbeddingModelMismatch",
    "Hit",
    "IndexCorrupt",
    "IngestReport",
    "InvalidRequest",
    "LoaderError",
    "RetrievalConfig",
    "RetrievalError",
    "Retriever",
]
