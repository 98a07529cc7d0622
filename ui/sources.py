"""Source lists for the chat page (/ui) and the console: each source's title, a link when it has a web address.

Titles and addresses come from ingested documents, so they are escaped, and only http(s) addresses become
links (a `javascript:` or `data:` URL in a document's front matter must never run in an operator's browser).
Links open in a new tab without giving the opened page a handle on this one (rel="noopener noreferrer").
The widget applies the same rules in its own script (ui/widget/view.js, safeUrl).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlsplit


def safe_url(url: str | None) -> str | None:
    """The address if it is an absolute http(s) URL with a host, else None."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c in url for c in "\n\r\t <>\"'`"):
        return None
    return url


def source_title_html(title: str, url: str | None) -> str:
    """The title, escaped; a link that opens in a new tab when the source has an http(s) address."""
    href = safe_url(url)
    if href is None:
        return escape(title)
    return f'<a href="{escape(href, quote=True)}" target="_blank" rel="noopener noreferrer">{escape(title)}</a>'


def sources_html(sources: list[Any], *, snippets: bool = True) -> str:
    """A numbered list of a reply's sources (events.Source: index, title, doc_id, url, score, snippet)."""
    rows = []
    for s in sources:
        title = source_title_html(f"[{s.index}] {s.title or s.doc_id}", getattr(s, "url", None))
        meta = f" <small>({escape(s.doc_id)}, score {s.score:.2f})</small>"
        snippet = f"<br>{escape(s.snippet[:200])}…" if snippets and getattr(s, "snippet", "") else ""
        rows.append(f"<li><b>{title}</b>{meta}{snippet}</li>")
    return f"<ol class=\"sources\">{''.join(rows)}</ol>" if rows else ""
