"""Loaders for whole pages: Markdown, plain text, HTML (main content only) and PDF.

Each returns one Document whose metadata["format"] tells the chunker how to split it:
Markdown keeps its headings; HTML main content is rewritten as Markdown headings and
text; PDF pages are separated by form feeds so chunks remember their page.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from retrieval.errors import LoaderError
from retrieval.schema import Document

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)
_BOILERPLATE = [
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "iframe",
    "template",
]
_HEADINGS = [("h1", "h1"), ("h2", "h2"), ("h3", "h3"), ("h4", "h4")]


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise LoaderError("binary content in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # old exports from office tools


def _humanise(stem: str) -> str:
    return re.sub(r"[-_]+", " ", stem).strip().capitalize()


def _require_text(text: str) -> str:
    if not text.strip():
        raise LoaderError("no text found")
    return text


def load_markdown(path: Path, doc_id: str) -> list[Document]:
    text = read_text(path)
    meta: dict = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise LoaderError(f"bad front matter: {exc}".splitlines()[0]) from exc
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    h1 = _H1.search(text)
    title = str(meta.pop("title", "") or (h1.group(1) if h1 else _humanise(path.stem)))
    url = meta.pop("url", None)
    extra = {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}
    return [
        Document(
            id=doc_id,
            title=title,
            text=_require_text(text),
            url=str(url) if url else None,
            metadata={"format": "markdown", **extra},
        )
    ]


def load_text(path: Path, doc_id: str) -> list[Document]:
    text = _require_text(read_text(path))
    return [Document(id=doc_id, title=_humanise(path.stem), text=text, metadata={"format": "text"})]


def html_to_markdown(html: str) -> tuple[str, str]:
    """(title, main text as Markdown sections) of an HTML page, without navigation boilerplate."""
    from bs4 import BeautifulSoup
    from langchain_text_splitters import HTMLHeaderTextSplitter

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup(_BOILERPLATE):
        tag.decompose()
    for tag in soup.select(
        '[role="navigation"], [role="banner"], [role="contentinfo"], [aria-hidden="true"]'
    ):
        tag.decompose()
    main = soup.find("main") or soup.find("article") or soup.find(attrs={"role": "main"}) or soup.body or soup
    sections = HTMLHeaderTextSplitter(_HEADINGS).split_text(str(main))
    lines: list[str] = []
    seen: dict[str, str] = {}
    for section in sections:
        content = section.page_content.strip()
        for level, (key, _) in enumerate(_HEADINGS, start=1):
            header = section.metadata.get(key)
            if header and seen.get(key) != header:
                seen[key] = header
                for deeper, _ in _HEADINGS[level:]:
                    seen.pop(deeper, None)
                lines.append(f"{'#' * level} {header}")
        if content and content not in section.metadata.values():
            lines.append(content)
    if not title:
        title = seen.get("h1", "") or next((s.metadata["h1"] for s in sections if "h1" in s.metadata), "")
    return title, "\n\n".join(lines)


def load_html(path: Path, doc_id: str) -> list[Document]:
    title, text = html_to_markdown(read_text(path))
    return [
        Document(
            id=doc_id,
            title=title or _humanise(path.stem),
            text=_require_text(text),
            metadata={"format": "markdown", "origin": "html"},
        )
    ]


def load_pdf(path: Path, doc_id: str) -> list[Document]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise LoaderError("encrypted PDF")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except PdfReadError as exc:
        raise LoaderError(f"corrupt PDF: {exc}") from exc
    if not any(pages):
        raise LoaderError("PDF has no extractable text (scanned images need OCR first)")
    info = reader.metadata
    title = str(info.title) if info is not None and info.title else _humanise(path.stem)
    return [Document(id=doc_id, title=title, text="\f".join(pages), metadata={"format": "pdf"})]
