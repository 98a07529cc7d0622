"""Chunker: heading-aware Markdown, whole FAQ entries, PDF pages, size limits."""

from __future__ import annotations

import pytest

from retrieval.chunker import Chunker
from retrieval.schema import Document


def test_markdown_chunks_carry_their_heading_path() -> None:
    doc = Document(
        id="d",
        title="Shipping",
        text="# Shipping\n\nIntro text.\n\n## Express\n\nNext day.\n\n### Cut-off\n\nOrder by 2pm.",
        metadata={"format": "markdown"},
    )
    chunks = Chunker(200, 20).split(doc)
    assert [(c.section, c.text) for c in chunks] == [
        ("Shipping", "Intro text."),
        ("Shipping > Express", "Next day."),
        ("Shipping > Express > Cut-off", "Order by 2pm."),
    ]


def test_long_text_is_split_within_size_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about parcels." for i in range(60)]
    doc = Document(id="d", text=" ".join(sentences), metadata={"format": "text"})
    chunks = Chunker(300, 60).split(doc)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    # overlap: the start of each chunk repeats text from the end of the previous one
    assert chunks[1].text[:20] in chunks[0].text


def test_faq_entry_is_one_chunk_even_when_long() -> None:
    doc = Document(id="f", title="Q?", text="answer " * 400, metadata={"format": "faq"})
    assert len(Chunker(200, 20).split(doc)) == 1


def test_pdf_pages_become_sections() -> None:
    doc = Document(id="p", text="Page one text.\fPage two text.", metadata={"format": "pdf"})
    assert [(c.section, c.text) for c in Chunker(200, 20).split(doc)] == [
        ("page 1", "Page one text."),
        ("page 2", "Page two text."),
    ]


def test_chinese_text_splits_at_sentence_ends() -> None:
    text = "我们的退货政策是三十天内可以退货。" * 30
    chunks = Chunker(100, 10).split(Document(id="z", text=text, metadata={"format": "text"}))
    assert len(chunks) > 3 and all(c.text.endswith("。") for c in chunks)


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        Chunker(100, 100)
