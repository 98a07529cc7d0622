"""Splits Documents into chunks with langchain-text-splitters: heading-aware for Markdown/HTML, per page for PDF.

FAQ entries stay whole (one entry = one chunk) so a question and its answer are never separated.
Each chunk remembers its section (heading path "Returns > Refunds", or "page 3").
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from retrieval.schema import Document

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]


@dataclass(frozen=True)
class ChunkText:
    text: str
    section: str | None


class Chunker:
    """Chunk size and overlap in characters; `signature` changes when the output would change."""

    def __init__(self, chunk_size: int = 800, chunk_overlap: int = 120) -> None:
        if chunk_overlap >= chunk_size:
            raise ValueError(
                f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})"
            )
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            # CJK sentence ends too, so Chinese text is not cut mid-sentence
            separators=["\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ", ""],
            keep_separator="end",
        )
        self._headers = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True)

    @property
    def signature(self) -> str:
        return f"v1:{self.chunk_size}:{self.chunk_overlap}"

    def split(self, doc: Document) -> list[ChunkText]:
        fmt = doc.metadata.get("format", "text")
        text = doc.text.strip()
        if fmt == "faq":
            return [ChunkText(text, None)]
        if fmt == "markdown":
            chunks = []
            for part in self._headers.split_text(text):
                headers = [part.metadata[key] for _, key in _HEADERS if key in part.metadata]
                section = " > ".join(headers) or None
                chunks += [ChunkText(piece, section) for piece in self._pieces(part.page_content)]
            return chunks or [ChunkText(text, None)]
        if fmt == "pdf":
            return [
                ChunkText(piece, f"page {number}")
                for number, page in enumerate(text.split("\f"), start=1)
                for piece in self._pieces(page)
            ]
        return [ChunkText(piece, None) for piece in self._pieces(text)]

    def _pieces(self, text: str) -> list[str]:
        return [piece.strip() for piece in self._splitter.split_text(text) if piece.strip()]
