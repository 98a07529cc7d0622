"""Data types crossing the retrieval layer's boundary: Document in, Hit and IngestReport out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Document(BaseModel):
    """One knowledge-base document: a page, a FAQ entry (title = question, text = answer) or a PDF."""

    id: str = Field(min_length=1, max_length=512)
    title: str = ""
    text: str
    url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Hit(BaseModel):
    """One retrieved passage, best first. `score` is a calibrated relevance in [0, 1]."""

    doc_id: str
    chunk_id: str
    title: str
    text: str
    score: float = Field(ge=0.0, le=1.0)
    source: str
    url: str | None = None
    section: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class IngestReport(BaseModel):
    """What one ingest did. `errors` lists (where, message) for inputs that were left out: where is a
    file's path, "<path>:<line>" for one bad row of a FAQ file (the file's other rows are ingested),
    or a document id."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    chunks: int = 0
    errors: list[tuple[str, str]] = Field(default_factory=list)
    version: int = 0
    seconds: float = 0.0
