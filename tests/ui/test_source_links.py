"""Source titles as links on the chat page (/ui) and in the console (#28): escaped titles, http(s) links only,
opened in a new tab with rel="noopener noreferrer"; a `javascript:` or `data:` address is shown as plain text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from assistant.engine.events import Source
from ui.chat import format_sources
from ui.console.tabs.chat import sources_frame
from ui.sources import safe_url, source_title_html

EVIL_TITLE = '<img src=x onerror="alert(1)">Returns & refunds'


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def _sources() -> list[Source]:
    def source(index: int, title: str, url: str | None) -> Source:
        return Source(index=index, doc_id=f"doc-{index}", title=title, snippet="Unworn items within 30 days.",
                      score=0.8, url=url)

    return [source(1, "Returning an item", "https://help.example.com/returns"),
            source(2, EVIL_TITLE, "javascript:alert(document.cookie)"),
            source(3, "Shipping", "data:text/html,<script>alert(1)</script>"),
            source(4, "Gift cards", None)]


@pytest.mark.parametrize("url", ["https://help.example.com/a?b=1#c", "http://localhost:8000/docs"])
def test_http_addresses_are_links(url: str) -> None:
    assert safe_url(url) == url


@pytest.mark.parametrize("url", [None, "", "javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x",
                                 "vbscript:x", "//evil.example.com/x", "/relative/page", "https://",
                                 'https://x.example.com/" onmouseover="alert(1)', "https://x.example.com/\nfoo"])
def test_anything_else_is_not(url: str | None) -> None:
    assert safe_url(url) is None


@pytest.mark.parametrize("render", [format_sources, lambda sources: sources_frame_html(sources)])
def test_titles_link_only_to_http_pages_and_are_escaped(render) -> None:
    page = Tags(render(_sources()))
    links = [attrs for tag, attrs in page.tags if tag == "a"]
    assert links == [{"href": "https://help.example.com/returns", "target": "_blank", "rel": "noopener noreferrer"}]
    assert not any(tag in ("img", "script") for tag, _ in page.tags)  # the title's markup is text, not elements
    for title in ("Returning an item", EVIL_TITLE, "Shipping", "Gift cards"):
        assert title in page.text
    assert "javascript:" not in render(_sources()) and "data:text" not in render(_sources())


def sources_frame_html(sources: list[Source]) -> str:
    """The console chat tab's sources panel for a reply with these sources."""
    from types import SimpleNamespace

    return sources_frame(SimpleNamespace(sources=sources))  # type: ignore[arg-type]


def test_a_link_is_escaped_and_an_address_with_quotes_is_not_linked() -> None:
    assert source_title_html("Sizes & fit", "https://help.example.com/size?a=1&b=2") == (
        '<a href="https://help.example.com/size?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">'
        "Sizes &amp; fit</a>")
    assert source_title_html("Sizes", "https://help.example.com/size?a='2'") == "Sizes"
