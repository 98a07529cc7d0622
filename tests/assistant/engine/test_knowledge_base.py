"""KnowledgeBase: the index behind Assistant.knowledge and the `assistant kb` commands (ingest, list, delete,
search, namespaces, stats, status), opened without a chat model.

The fast hashing embedder stands in for MiniLM (tests/retrieval/conftest.py): no model is loaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.errors import RetrievalError
from assistant.engine.facade import Assistant
from assistant.engine.knowledge import KnowledgeBase, KnowledgeStatus, LeftOut, open_retriever
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from tests.retrieval.conftest import HashingEmbedder
from tests.support import FakeClassifier


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "returns.md").write_text("# Returns\n\nReturn unworn items within 30 days for a full refund.\n")
    (root / "shipping.md").write_text("# Shipping\n\nStandard shipping takes 3-5 business days.\n")
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


def test_open_gives_the_empty_index_without_seeding_it(settings: Settings) -> None:
    kb = KnowledgeBase.open(settings, embedder=HashingEmbedder())
    assert kb.namespaces() == [] and kb.documents() == []
    assert kb.stats()["namespaces"] == {} and kb.stats()["embedding_model"] == "hashing-test"
    assert kb.status() == KnowledgeStatus(documents=0)  # nothing ingested on open, nothing recorded
    assert (settings.index_dir / "index.json").exists()


def test_add_list_search_stats_delete_per_namespace(settings: Settings, pages: Path) -> None:
    kb = KnowledgeBase.open(settings, embedder=HashingEmbedder())
    report = kb.add_documents([pages], "acme")
    assert (report.added, report.errors) == (2, [])
    assert kb.add_documents(iter([pages / "returns.md"]), "acme").skipped == 1  # any iterable of paths
    assert kb.namespaces() == ["acme"]
    assert [d["id"] for d in kb.documents("acme")] == ["returns", "shipping"]
    assert kb.documents() == [] and kb.documents("never-written") == []
    hits = kb.search("can I return an item for a refund", 1, "acme")
    assert [h.doc_id for h in hits] == ["returns"] and 0 < hits[0].score <= 1
    assert kb.search("refund") == []  # another site's documents are not searched
    assert [h.doc_id for h in kb.search("shipping days", 5, "acme", "bm25")][0] == "shipping"

    one = kb.stats("acme")
    assert (one["documents"], one["namespaces"]["acme"]["documents"]) == (2, 2) and one["version"] == report.version
    assert kb.stats()["documents"] == 2
    assert kb.stats("never-written")["namespaces"]["never-written"]["documents"] == 0  # what `kb stats -n` shows

    assert kb.delete_document("returns", "acme") is True
    assert kb.delete_document("returns", "acme") is False
    assert kb.delete_document("shipping") is False  # not in the default namespace
    assert [d["id"] for d in kb.documents("acme")] == ["shipping"]


@pytest.mark.parametrize("call", [
    lambda kb: kb.documents("../escape"),
    lambda kb: kb.stats("no/slash"),
    lambda kb: kb.search("", 4),
    lambda kb: kb.search("refund", 0),
    lambda kb: kb.search("refund", 4, "default", "fuzzy"),
    lambda kb: kb.add_documents([Path("x.md")], "Bad Name"),
])
def test_bad_input_raises_the_engines_retrieval_error(settings: Settings, call) -> None:
    kb = KnowledgeBase.open(settings, embedder=HashingEmbedder())
    with pytest.raises(RetrievalError):
        call(kb)


def test_an_index_built_with_another_embedding_model_is_refused(settings: Settings) -> None:
    KnowledgeBase.open(settings, embedder=HashingEmbedder(dims=64))
    with pytest.raises(RetrievalError, match="was built with embedding model"):
        KnowledgeBase.open(settings, embedder=HashingEmbedder(dims=32, name="other"))


def test_open_with_seed_ingests_the_first_start_documents_and_reports_what_was_left_out(
        tmp_path: Path, pages: Path) -> None:
    (pages / "notes.docx").write_bytes(b"PK")
    settings = Settings(data_dir=tmp_path / "var", kb_path=pages)
    kb = KnowledgeBase.open(settings, seed=True, progress=False, embedder=HashingEmbedder())
    status = kb.status()
    assert status.documents == 2 and status.source == str(pages) and status.left_out_total == 1
    assert status.left_out[0].where == "notes.docx" and isinstance(status.left_out[0], LeftOut)
    again = KnowledgeBase.open(settings, embedder=HashingEmbedder())  # a later open reads the same record
    assert again.status() == status and [d["id"] for d in again.documents()] == ["returns", "shipping"]


def test_the_facade_hands_out_the_knowledge_base_of_its_retriever(settings: Settings, pages: Path) -> None:
    retriever = open_retriever(settings, seed=False, embedder=HashingEmbedder())
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=retriever, understanding=FakeClassifier(),
                    policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=Store(settings.resolved_database_url))
    try:
        assert bot.knowledge.add_documents([pages]).added == 2
        searched: list[str] = []

        class Recorder:
            def __init__(self, inner: object) -> None:
                self.inner = inner

            def search(self, query: str, *args: object, **kwargs: object) -> list:
                searched.append(query)
                return []

            def __getattr__(self, name: str) -> object:
                return getattr(self.inner, name)

        bot.instrument_search(Recorder)  # customer turns search through the wrapper from now on ...
        assert bot.knowledge.search("return for a refund")[0].doc_id == "returns"
        assert searched == []  # ... the knowledge base keeps the plain index
        assert bot.knowledge.status().documents == 2
    finally:
        bot.store.close()


def test_console_tab_shows_a_new_or_invalid_typed_namespace_empty(settings: Settings, pages: Path) -> None:
    import gradio as gr

    from ui.console.context import ConsoleContext
    from ui.console.tabs.knowledge import KnowledgeTab

    retriever = open_retriever(settings, seed=False, embedder=HashingEmbedder())
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=retriever, understanding=FakeClassifier(),
                    policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=Store(settings.resolved_database_url))
    try:
        bot.knowledge.add_documents([pages], "acme")
        with gr.Blocks():
            tab = KnowledgeTab(ConsoleContext(lambda: bot, settings))
        stats, table, *_ = tab.listing("acme")
        assert sorted(table["document"]) == ["returns", "shipping"] and "hashing-test" in stats
        for typed in ("new-site", "Not a/namespace"):  # the namespace box takes any text: no error, no index read
            stats, table, *_ = tab.listing(typed)
            assert table.empty and "hashing-test" not in stats and "—" in stats
    finally:
        bot.store.close()
