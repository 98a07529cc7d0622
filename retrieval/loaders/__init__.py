"""File loaders: turn paths (files or directories, walked recursively) into Documents with stable ids.

A file's doc id is its path relative to the ingested root, POSIX, without the suffix
("policies/returns"); a file given directly gets its stem. FAQ rows become "<id base>#<n>"
(1-based row number) unless the row has an `id`. Every problem with one file raises
LoaderError, so a batch can record it and go on. A bad row of a FAQ file (CSV/JSONL) fails the
file only when no `problems` list is passed; with one, the row is left out and reported there
(faq.RowProblem: line, reason) and the file's good rows load.

A document's link (`url`) comes from the file (Markdown front matter, a FAQ row's `url`) or, for a folder
published as a website, from a base URL joined with the file's id (`page_url`): the file's own link wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from retrieval.errors import InvalidRequest, LoaderError
from retrieval.loaders.faq import RowProblem, load_csv, load_jsonl
from retrieval.loaders.pages import load_html, load_markdown, load_pdf, load_text
from retrieval.schema import Document

LOADERS = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".csv": load_csv,
    ".jsonl": load_jsonl,
    ".ndjson": load_jsonl,
}
SUPPORTED = sorted(LOADERS)
_ROW_LOADERS = (load_csv, load_jsonl)  # files of independent rows: one bad row need not fail the file


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest and the id its documents get (relative to the root it was found under)."""

    path: Path
    doc_id: str
    root: Path | None


def walk(paths: list[Path]) -> Iterator[SourceFile | tuple[Path, str]]:
    """Yield SourceFiles for files and directory contents; (path, message) for paths that do not exist.

    Hidden files and folders (".git", ".DS_Store") are passed over silently in directories;
    other unsupported files in a directory are yielded so they are reported.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield (path, "no such file or directory")
        elif path.is_dir():
            root = path.resolve()
            for file in sorted(root.rglob("*")):
                rel = file.relative_to(root)
                if any(part.startswith(".") for part in rel.parts) or not file.is_file():
                    continue
                yield SourceFile(file, rel.with_suffix("").as_posix(), root)
        else:
            yield SourceFile(path.resolve(), path.stem, None)


def load_file(source: SourceFile, max_bytes: int, problems: list[RowProblem] | None = None) -> list[Document]:
    """All documents of one file; raises LoaderError with a one-line reason.

    With `problems`, bad rows of a FAQ file are appended there (and left out) instead of failing it;
    a file none of whose rows is usable still raises.
    """
    path = source.path
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise LoaderError(f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED)}")
    size = path.stat().st_size
    if size == 0:
        raise LoaderError("empty file")
    if size > max_bytes:
        raise LoaderError(f"file too large ({size / 1e6:.1f} MB > limit {max_bytes / 1e6:.1f} MB)")
    try:
        if loader in _ROW_LOADERS:
            docs = loader(path, source.doc_id, problems)
        else:
            docs = loader(path, source.doc_id)
    except LoaderError:
        raise
    except Exception as exc:  # a third-party parser failing on bad bytes is an input problem, not a bug
        raise LoaderError(f"cannot parse {suffix} file: {type(exc).__name__}: {exc}") from exc
    if not docs:
        raise LoaderError("no text found")
    for doc in docs:
        doc.metadata.setdefault("source", str(path))
        if source.root is not None:
            doc.metadata.setdefault("root", str(source.root))
    return docs


def check_base_url(base_url: str) -> str:
    """The base URL of a published folder, checked: absolute http(s) with a host (InvalidRequest otherwise)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidRequest(f"base URL {base_url[:200]!r} must be an http(s) address such as https://help.example.com/")
    return base_url.strip()


def page_url(base_url: str, doc_id: str) -> str:
    """Where a file of a published folder lives: `https://help.example.com/` + `policies/returns`
    (the file's path relative to the folder, without its extension; each segment percent-encoded)."""
    return base_url.rstrip("/") + "/" + quote(doc_id, safe="/")


def link_documents(docs: list[Document], source: SourceFile, base_url: str | None) -> None:
    """Give the file's documents that have no link of their own the page address under `base_url`."""
    if base_url:
        for doc in docs:
            if not doc.url:
                doc.url = page_url(base_url, source.doc_id)


__all__ = ["SUPPORTED", "RowProblem", "SourceFile", "check_base_url", "link_documents", "load_file", "page_url",
           "walk"]
