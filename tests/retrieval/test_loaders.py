"""Loaders: formats, stable ids, per-file errors (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import LoaderError
from retrieval.loaders import RowProblem, SourceFile, load_file, walk
from retrieval.loaders.pages import html_to_markdown

MB = 1_000_000


def _load(path: Path, doc_id: str | None = None, max_bytes: int = MB):
    return load_file(SourceFile(path, doc_id or path.stem, None), max_bytes)


def _load_rows(path: Path) -> tuple[list, list[str]]:
    """A FAQ file loaded the way ingestion loads it: (documents, problems as "line N: reason")."""
    problems: list[RowProblem] = []
    docs = load_file(SourceFile(path, path.stem, None), MB, problems)
    return docs, [str(p) for p in problems]


def test_walk_gives_relative_posix_ids_without_suffix(kb_dir: Path) -> None:
    (kb_dir / ".git").mkdir()
    (kb_dir / ".git" / "config").write_text("x")
    items = list(walk([kb_dir]))
    ids = sorted(i.doc_id for i in items)
    assert ids == ["faq", "gift-cards", "policies/returns", "shipping-times"]
    single = list(walk([kb_dir / "policies" / "returns.md"]))
    assert [i.doc_id for i in single] == ["returns"]
    missing = list(walk([kb_dir / "nope.md"]))
    assert missing == [(kb_dir / "nope.md", "no such file or directory")]


def test_markdown_front_matter_gives_title_and_url(kb_dir: Path) -> None:
    (doc,) = _load(kb_dir / "shipping-times.md")
    assert doc.title == "Shipping times"
    assert doc.url == "https://shop.example/help/shipping"
    assert "3-5 business days" in doc.text and "url:" not in doc.text
    assert doc.metadata["format"] == "markdown"


def test_html_keeps_main_text_and_drops_navigation(kb_dir: Path) -> None:
    (doc,) = _load(kb_dir / "gift-cards.html")
    assert doc.title == "Gift cards"
    assert "never expire" in doc.text and "## Balance" in doc.text
    assert "Home | Shop" not in doc.text and "Copyright" not in doc.text


def test_html_without_main_uses_body() -> None:
    title, text = html_to_markdown("<body><header>Menu</header><h2>Help</h2><p>Call us.</p></body>")
    assert "Call us." in text and "Menu" not in text
    assert title == ""


def test_faq_csv_rows_become_entries_with_row_ids(kb_dir: Path) -> None:
    docs = _load(kb_dir / "faq.csv")
    assert [d.id for d in docs] == ["faq#1", "faq#2"]
    assert docs[0].title == "Do you ship to Canada?"
    assert docs[0].text.startswith("Yes, we ship to Canada")
    assert docs[0].metadata["format"] == "faq"


def test_faq_csv_id_column_wins(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("id,question,answer,category\nship-ca,Ship to Canada?,Yes.,shipping\n")
    (doc,) = _load(path)
    assert doc.id == "ship-ca" and doc.metadata["category"] == "shipping"


def test_jsonl_documents_and_faq_lines(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(
        '{"id": "a", "title": "Alpha", "text": "First.", "url": "https://x/a"}\n\n'
        '{"question": "Why?", "answer": "Because."}\n'
    )
    docs = _load(path)
    assert [(d.id, d.title, d.url) for d in docs] == [("a", "Alpha", "https://x/a"), ("docs#2", "Why?", None)]
    assert docs[0].metadata["format"] == "text" and docs[1].metadata["format"] == "faq"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"   \n\n", "no text found"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type .docx"),
        ("bad.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        # without a problems list (strict, as for evaluation sets) one bad FAQ row fails the file
        ("bad.jsonl", b'{"id": "a", "text": "ok"}\n{not json}\n', "line 2: not valid JSON"),
        ("dupe.jsonl", b'{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "duplicate id 'a'"),
        ("noanswer.csv", b"foo,bar\n1,2\n", "CSV needs an answer column"),
        ("binary.txt", b"abc\x00\x01\x02", "binary content"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoaderError, match=message):
        _load(path)


def test_duplicate_id_keeps_the_first_row_and_reports_the_later_ones(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(
        '{"id": "abc", "question": "Refunds?", "answer": "Within 5 days."}\n'
        '{"id": "xyz", "question": "Returns?", "answer": "Within 30 days."}\n'
        '\n'
        '{"id": "abc", "question": "Refunds again?", "answer": "A different answer."}\n'
        '{"id": "abc", "question": "And again?", "answer": "A third answer."}\n'
    )
    docs, problems = _load_rows(path)
    assert [(d.id, d.text) for d in docs] == [("abc", "Within 5 days."), ("xyz", "Within 30 days.")]
    assert problems == ["line 4: duplicate id 'abc' (first on line 1)", "line 5: duplicate id 'abc' (first on line 1)"]


def test_bad_jsonl_lines_are_reported_by_line_and_the_rest_keep_their_ids(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(
        '{"question": "Refunds?", "answer": "Within 5 days."}\n'
        '{"question": "Gift wrap?", "answer": ""}\n'
        '{not json\n'
        '["a", "list"]\n'
        '{"question": "Returns?", "answer": "Within 30 days."}\n'
    )
    docs, problems = _load_rows(path)
    assert [d.id for d in docs] == ["faq#1", "faq#5"]  # a bad row keeps its number: no renumbering
    assert problems == [
        "line 2: no answer/text value",
        "line 3: not valid JSON (Expecting property name enclosed in double quotes)",
        "line 4: expected a JSON object, got list",
    ]


def test_a_row_with_an_overlong_id_is_left_out_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(f'{{"id": "{"x" * 600}", "text": "too long"}}\n{{"id": "ok", "text": "fine"}}\n')
    docs, problems = _load_rows(path)
    assert [d.id for d in docs] == ["ok"]
    assert len(problems) == 1 and problems[0].startswith("line 1: id: String should have at most 512 characters")


def test_faq_csv_problems_name_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(
        "id,question,answer\n"                           # line 1: the header
        'ship,Do you ship abroad?,"Yes.\nTo 30 countries."\n'  # lines 2-3: one row
        "\n"                                              # line 4: blank
        "gift,Gift wrap?,\n"                              # line 5: no answer
        ",Can I pay by card?,Visa and Mastercard.\n"      # line 6: no id: the 3rd row -> faq#3
        "ship,Shipping?,Another answer.\n"                # line 7: duplicate
    )
    docs, problems = _load_rows(path)
    assert [d.id for d in docs] == ["ship", "faq#3"]
    assert docs[0].text == "Yes.\nTo 30 countries."
    assert problems == ["line 5: no answer/text value", "line 7: duplicate id 'ship' (first on line 2)"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", b"{oops\n[1]\n", r"no usable rows: line 1: not valid JSON .*; line 2: expected a JSON object"),
        ("blank.csv", b"question,answer\nWhy?,\nHow?, \n", "no usable rows: line 2: no answer/text value; line 3"),
        ("many.jsonl", b'{"q": "a"}\n' * 5, r"line 3: no answer/text value \(and 2 more\)$"),
    ],
)
def test_a_file_with_no_usable_row_fails_whole(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoaderError, match=message):
        _load_rows(path)
    with pytest.raises(LoaderError):
        _load(path)  # strict (no problems list): fails at the first bad row


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    with pytest.raises(LoaderError, match="file too large"):
        _load(path, max_bytes=1000)


def test_pdf_text_is_extracted_per_page(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    path = tmp_path / "manual.pdf"
    with PdfPages(path) as pdf:
        for text in ("Warranty lasts two years.", "Repairs take ten days."):
            fig = Figure()
            fig.text(0.1, 0.5, text)
            pdf.savefig(fig)
    (doc,) = _load(path)
    pages = doc.text.split("\f")
    assert len(pages) == 2
    assert "Warranty" in pages[0] and "Repairs" in pages[1]
