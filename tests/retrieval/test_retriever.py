"""Retriever with the fast hashing embedder: ingest, skip, update, delete, sync, namespaces, errors, concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from retrieval import (
    Document,
    EmbeddingModelMismatch,
    InvalidRequest,
    RetrievalConfig,
    Retriever,
)
from retrieval import retriever as retriever_module
from retrieval.dense_index import HnswParams


def _open(path: Path, embedder) -> Retriever:
    return Retriever.open(path, embedder.spec, RetrievalConfig(), embedder=embedder)


def test_ingest_search_and_reopen(tmp_path: Path, kb_dir: Path, hashing_embedder) -> None:
    r = _open(tmp_path / "index", hashing_embedder)
    report = r.add_paths([kb_dir], progress=False)
    assert (report.added, report.errors) == (5, [])
    assert sorted(d["id"] for d in r.documents()) == [
        "faq#1",
        "faq#2",
        "gift-cards",
        "policies/returns",
        "shipping-times",
    ]
    hits = r.search("return code RX-7731", k=2)
    assert hits[0].doc_id == "policies/returns"
    assert 0.0 <= hits[0].score <= 1.0 and hits[0].source.endswith("returns.md")
    r.close()
    again = _open(tmp_path / "index", hashing_embedder)
    assert [h.chunk_id for h in again.search("return code RX-7731", k=2)] == [h.chunk_id for h in hits]
    stats = again.stats("default")
    assert stats["documents"] == 5 and stats["index_type"] == "flat" and stats["size_bytes"] > 0


def test_unchanged_files_are_skipped_and_changed_ones_updated(
    tmp_path: Path, kb_dir: Path, hashing_embedder
) -> None:
    r = _open(tmp_path / "index", hashing_embedder)
    r.add_paths([kb_dir], progress=False)
    calls = hashing_embedder.calls
    report = r.add_paths([kb_dir], progress=False)
    assert (report.added, report.updated, report.skipped, report.chunks) == (0, 0, 5, 0)
    assert hashing_embedder.calls == calls  # nothing re-embedded
    (kb_dir / "policies" / "returns.md").write_text("# Returns\n\nReturns are free within 60 days.\n")
    report = r.add_paths([kb_dir], progress=False)
    assert (report.updated, report.skipped) == (1, 4)
    assert "60 days" in r.search("returns free within 60 days", k=1)[0].text
    assert all("RX-7731" not in h.text for h in r.search("RX-7731", k=5))


def test_directory_sync_deletes_vanished_files_and_faq_rows(
    tmp_path: Path, kb_dir: Path, hashing_embedder
) -> None:
    r = _open(tmp_path / "index", hashing_embedder)
    r.add_paths([kb_dir], progress=False)
    (kb_dir / "gift-cards.html").unlink()
    (kb_dir / "faq.csv").write_text(
        'question,answer\nDo you ship to Canada?,"Yes, we ship to Canada; delivery takes 7-10 days."\n'
    )
    report = r.add_paths([kb_dir], progress=False)
    assert report.deleted == 2
    assert {d["id"] for d in r.documents()} == {"faq#1", "policies/returns", "shipping-times"}


def test_bad_files_are_reported_and_the_rest_ingested(tmp_path: Path, kb_dir: Path, hashing_embedder,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (kb_dir / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (kb_dir / "empty.md").write_text("")
    (kb_dir / "table.xlsx").write_bytes(b"PK")
    (kb_dir / "lines.jsonl").write_text('{"id": "ok", "text": "fine"}\nnot json\n')
    big = tmp_path / "big.txt"
    big.write_text("x " * 2_000_000)
    monkeypatch.setattr(retriever_module, "MAX_FILE_MB", 1)
    r = _open(tmp_path / "index", hashing_embedder)
    report = r.add_paths([kb_dir, big, tmp_path / "missing.md"], progress=False)
    reasons = {Path(p).name: m for p, m in report.errors}
    assert set(reasons) == {"broken.pdf", "empty.md", "table.xlsx", "lines.jsonl:2", "big.txt", "missing.md"}
    assert "too large" in reasons["big.txt"] and reasons["lines.jsonl:2"].startswith("not valid JSON")
    assert report.added == 6
    assert "ok" in {d["id"] for d in r.documents()}  # a FAQ file's bad line is left out, its good lines go in


def test_bad_faq_rows_are_reported_by_line_and_the_good_rows_ingested(tmp_path: Path, hashing_embedder) -> None:
    faq = tmp_path / "faq.jsonl"
    faq.write_text(
        '{"id": "ship", "question": "Do you ship abroad?", "answer": "Yes, to 30 countries."}\n'
        '{"id": "pay", "question": "Can I pay by card?", "answer": "Visa and Mastercard."}\n'
        '{"id": "ship", "question": "Shipping?", "answer": "A later copy."}\n'
        '{"id": "gift", "question": "Gift cards?"}\n'
    )
    r = _open(tmp_path / "index", hashing_embedder)
    report = r.add_paths([faq], progress=False)
    assert report.errors == [
        (f"{faq.resolve()}:3", "duplicate id 'ship' (first on line 1)"),
        (f"{faq.resolve()}:4", "no answer/text value"),
    ]
    assert (report.added, sorted(d["id"] for d in r.documents())) == (2, ["pay", "ship"])
    assert r.search("ship abroad", k=1)[0].text.endswith("30 countries.")  # the first row of an id wins
    # a row that breaks later keeps its earlier version (like a file that cannot be read); fixing it updates it
    faq.write_text(
        '{"id": "ship", "question": "Do you ship abroad?"}\n'
        '{"id": "pay", "question": "Can I pay by card?", "answer": "Visa, Mastercard and PayPal."}\n'
    )
    report = r.add_paths([faq], progress=False)
    assert (report.updated, report.deleted, [m for _, m in report.errors]) == (1, 0, ["no answer/text value"])
    assert sorted(d["id"] for d in r.documents()) == ["pay", "ship"]


def test_a_failing_file_keeps_its_previous_version(tmp_path: Path, kb_dir: Path, hashing_embedder) -> None:
    r = _open(tmp_path / "index", hashing_embedder)
    r.add_paths([kb_dir], progress=False)
    (kb_dir / "faq.csv").write_text("nonsense\n1\n")
    report = r.add_paths([kb_dir], progress=False)
    assert report.deleted == 0 and len(report.errors) == 1
    assert {"faq#1", "faq#2"} <= {d["id"] for d in r.documents()}


def test_add_documents_delete_and_namespaces(tmp_path: Path, hashing_embedder) -> None:
    r = _open(tmp_path / "index", hashing_embedder)
    r.add_documents([Document(id="a", title="Alpha", text="alpha site refund rules")], namespace="site-a")
    r.add_documents([Document(id="b", title="Beta", text="beta site refund rules")], namespace="site-b")
    assert r.namespaces() == ["site-a", "site-b"]
    assert {d["id"] for d in r.documents("site-a")} == {"a"}
    assert [h.doc_id for h in r.search("refund rules", namespace="site-a")] == ["a"]
    assert r.search("refund rules", namespace="nobody") == []
    assert r.delete("a", namespace="site-a") is True
    assert r.delete("a", namespace="site-a") is False
    assert r.documents("site-a") == []
    assert r.search("refund rules", namespace="site-a") == []
    assert r.stats()["documents"] == 1
    with pytest.raises(InvalidRequest, match="bad namespace"):
        r.search("x", namespace="../etc")


def test_bad_requests_are_clear(tmp_path: Path, hashing_embedder) -> None:
    r = _open(tmp_path / "index", hashing_embedder)
    r.add_documents([Document(id="a", text="alpha")])
    with pytest.raises(InvalidRequest, match="unknown search mode"):
        r.search("alpha", mode="fuzzy")
    with pytest.raises(InvalidRequest, match="empty query"):
        r.search("   ")
    report = r.add_documents(
        [Document(id="e", text="   "), Document(id="a", text="x"), Document(id="a", text="y")]
    )
    assert [m for _, m in report.errors] == [
        "document 'e' has no text",
        "duplicate document id 'a' (also from a)",
    ]


def test_another_embedding_model_is_refused(tmp_path: Path, hashing_embedder) -> None:
    from tests.retrieval.conftest import HashingEmbedder

    _open(tmp_path / "index", hashing_embedder).add_documents([Document(id="a", text="alpha")])
    with pytest.raises(EmbeddingModelMismatch, match="built with embedding model 'hashing-test'"):
        _open(tmp_path / "index", HashingEmbedder(dims=32, name="other"))


def test_searches_keep_working_during_ingest(tmp_path: Path, hashing_embedder) -> None:
    r = _open(tmp_path / "index", hashing_embedder)
    r.add_documents([Document(id="base", title="Returns", text="return policy thirty days")])
    failures: list[str] = []
    stop = threading.Event()

    def searcher() -> None:
        while not stop.is_set():
            hits = r.search("return policy", k=3)
            if not hits or hits[0].doc_id != "base":
                failures.append(repr(hits[:1]))

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for batch in range(5):
            docs = [
                Document(id=f"d{batch}-{i}", text=f"unrelated note {batch} {i} about weather")
                for i in range(40)
            ]
            r.add_documents(docs)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert r.stats("default")["documents"] == 201


def test_hnsw_index_with_deletes_and_compaction(tmp_path: Path, hashing_embedder,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retriever_module, "HNSW_THRESHOLD", 50)
    r = _open(tmp_path / "index", hashing_embedder)
    r.hnsw = HnswParams(m=8)  # a small graph builds fast
    r.add_documents([Document(id=f"n{i}", text=f"note number {i} topic{i % 7}") for i in range(80)])
    assert r.stats("default")["index_type"] == "hnsw"
    for i in range(5):
        r.delete(f"n{i}")
    assert all(h.doc_id not in {f"n{i}" for i in range(5)} for h in r.search("note number 3 topic3", k=10))
    snap = r.snapshot()
    assert snap.live_chunks == 75 and len(snap.chunks) == 80  # tombstoned, not yet compacted
    for i in range(5, 30):
        r.delete(f"n{i}")
    snap = r.snapshot()
    assert len(snap.chunks) == snap.live_chunks == 50  # compacted once dead rows passed 20%
    assert r.search("note number 40 topic5", k=1)[0].doc_id == "n40"
