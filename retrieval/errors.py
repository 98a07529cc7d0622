"""Errors raised by the retrieval layer: one base class so callers can catch them all."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base class of every error the retrieval layer raises on purpose."""


class EmbeddingModelMismatch(RetrievalError):
    """The index on disk was built with another embedding model than the one asked for."""


class IndexCorrupt(RetrievalError):
    """The index folder cannot be read (missing or damaged files)."""


class LoaderError(RetrievalError):
    """One input file cannot be ingested; the message says why. The rest of a batch goes on."""


class InvalidRequest(RetrievalError):
    """A bad argument: unknown mode, empty query, bad namespace name."""
