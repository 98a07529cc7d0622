"""Where a document's link (`url`) comes from at ingest (#28): a FAQ row's `url` (CSV column, JSONL field),
Markdown front matter, or a base URL for a published folder joined with the file's path; the file's own wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import InvalidRequest, RetrievalConfig, Retriever
from retrieval.loaders import RowProblem, SourceFile, load_file, page_url

MB = 1_000_000
BASE = "https://help.example.com/"


def _load(path: Path) -> list:
    return load_file(SourceFile(path, path.stem, None), MB, [] if path.suffix != ".md" else None)


def test_csv_faq_rows_take_their_url_column(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("question,answer,url\nShip to Norway?,Yes in 3 days.,https://help.example.com/shipping\n"
                    "Gift cards?,From 10 to 250 euros.,\n")
    problems: list[RowProblem] = []
    docs = load_file(SourceFile(path, "faq", None), MB, problems)
    assert [(d.id, d.url) for d in docs] == [("faq#1", "https://help.example.com/shipping"), ("faq#2", None)]
    assert problems == [] and "url" not in docs[0].metadata


def test_jsonl_faq_rows_and_documents_take_their_url_field(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    rows = [{"question": "Ship to Norway?", "answer": "Yes.", "url": "https://help.example.com/shipping"},
            {"id": "returns", "title": "Returns", "text": "30 days.", "url": "https://help.example.com/returns"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    docs = _load(path)
    assert [d.url for d in docs] == ["https://help.example.com/shipping", "https://help.example.com/returns"]


def test_markdown_front_matter_url(tmp_path: Path) -> None:
    path = tmp_path / "returns.md"
    path.write_text("---\ntitle: Returning an item\nurl: https://help.example.com/returns\n---\n# Returns\n\n30 days.\n")
    (doc,) = _load(path)
    assert (doc.title, doc.url) == ("Returning an item", "https://help.example.com/returns")


def test_page_url_joins_the_files_path_percent_encoded() -> None:
    assert page_url(BASE, "policies/returns") == "https://help.example.com/policies/returns"
    assert page_url("https://help.example.com/docs", "size guide") == "https://help.example.com/docs/size%20guide"


def _help_folder(root: Path) -> Path:
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "returns.md").write_text("# Returns\n\nReturn unworn items within 30 days.\n")
    (root / "own-link.md").write_text("---\nurl: https://elsewhere.example.org/warranty\n---\n# Warranty\n\nTwo years.\n")
    (root / "faq.csv").write_text("question,answer,url\nGift cards?,From 10 to 250 euros.,\n"
                                  "Ship to Norway?,Yes in 3 days.,https://help.example.com/shipping\n")
    return root


def test_a_base_url_links_a_folders_documents_that_have_no_link(tmp_path: Path, hashing_embedder) -> None:
    kb = _help_folder(tmp_path / "help")
    r = Retriever.open(tmp_path / "index", hashing_embedder.spec, RetrievalConfig(), embedder=hashing_embedder)
    first = r.add_paths([kb], progress=False)
    assert first.added == 4 and {d["id"]: d.get("url") for d in r.documents()}["policies/returns"] is None
    again = r.add_paths([kb], progress=False, base_url=BASE)  # the links changed: the documents are updated
    assert (again.updated, again.errors) == (2, [])
    assert {d["id"]: d["url"] for d in r.documents()} == {
        "policies/returns": "https://help.example.com/policies/returns",
        "own-link": "https://elsewhere.example.org/warranty",  # the file's own link wins
        "faq#1": "https://help.example.com/faq",  # a FAQ row without a url links to its file's page
        "faq#2": "https://help.example.com/shipping",
    }
    assert r.search("return unworn items", k=1)[0].url == "https://help.example.com/policies/returns"
    assert r.add_paths([kb], progress=False, base_url=BASE).skipped == 4  # same links: nothing to redo


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "ftp://help.example.com/", "help.example.com", "https://",
                                 "https://help.example.com/?q=1"])
def test_a_base_url_that_is_not_an_http_address_is_refused_before_anything_is_read(
        tmp_path: Path, hashing_embedder, bad: str) -> None:
    kb = _help_folder(tmp_path / "help")
    r = Retriever.open(tmp_path / "index", hashing_embedder.spec, RetrievalConfig(), embedder=hashing_embedder)
    with pytest.raises(InvalidRequest, match="base URL"):
        r.add_paths([kb], progress=False, base_url=bad)
    assert r.documents() == []
