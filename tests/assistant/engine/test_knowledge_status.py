"""First start with a knowledge base that has bad rows: the good rows are searchable, the left-out ones are
reported (log, /readyz, the console, kept for later starts); one that gives no document stops start-up with a clear error.

The fast hashing embedder stands in for MiniLM (tests/retrieval/conftest.py): no model is loaded.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.engine.knowledge import (
    SHOWN_LEFT_OUT,
    KnowledgeBaseError,
    LeftOut,
    knowledge_status,
    open_retriever,
)
from assistant.engine.settings import Settings
from assistant.server.app import create_app
from tests.retrieval.conftest import HashingEmbedder

FAQ = (
    '{"id": "ship", "question": "Do you ship abroad?", "answer": "Yes, we ship to 30 countries."}\n'
    '{"id": "pay", "question": "Which cards do you take?", "answer": "Visa and Mastercard."}\n'
    '{"id": "ship", "question": "Shipping abroad?", "answer": "An older copy of the shipping answer."}\n'
)


def settings_for(tmp_path: Path, kb: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", kb_path=kb, server={"startup_wait_seconds": 0},
                    engine={"backend": "fake"})


def test_first_start_ingests_the_good_rows_and_reports_the_duplicate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kb = tmp_path / "faq.jsonl"
    kb.write_text(FAQ)
    settings = settings_for(tmp_path, kb)
    with caplog.at_level(logging.WARNING, logger="assistant.engine.knowledge"):
        r = open_retriever(settings, progress=False, embedder=HashingEmbedder())
    assert sorted(d["id"] for d in r.documents()) == ["pay", "ship"]
    top = r.search("do you ship abroad", k=1)[0]
    assert (top.doc_id, top.text) == ("ship", "Yes, we ship to 30 countries.")  # the first row of the id
    status = knowledge_status(settings, r)
    assert status.documents == 2 and status.left_out_total == 1
    assert status.left_out == (LeftOut("faq.jsonl:3", "duplicate id 'ship' (first on line 1)"),)
    assert "faq.jsonl:3: duplicate id 'ship'" in caplog.text  # one warning line at start-up
    r.close()
    # a later start reuses the index and still reports what the first one left out
    again = open_retriever(settings, progress=False, embedder=HashingEmbedder())
    assert knowledge_status(settings, again) == status
    assert knowledge_status(settings, again).as_dict() == {
        "documents": 2,
        "left_out": [{"where": "faq.jsonl:3", "reason": "duplicate id 'ship' (first on line 1)"}],
        "left_out_total": 1,
    }


def test_left_out_inputs_are_capped_in_readyz_with_the_total(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    rows = [f'{{"id": "q{n}", "question": "Question {n}?"}}' for n in range(SHOWN_LEFT_OUT + 5)]
    (kb / "faq.jsonl").write_text("\n".join(['{"id": "ok", "text": "The one good answer."}', *rows]) + "\n")
    (kb / "notes.docx").write_bytes(b"PK")
    settings = settings_for(tmp_path, kb)
    status = knowledge_status(settings, open_retriever(settings, progress=False, embedder=HashingEmbedder()))
    body = status.as_dict()
    assert body["documents"] == 1 and body["left_out_total"] == SHOWN_LEFT_OUT + 6
    assert len(body["left_out"]) == SHOWN_LEFT_OUT
    assert body["left_out"][0] == {"where": "faq.jsonl:2", "reason": "no answer/text value"}
    assert all(not x["where"].startswith("/") for x in body["left_out"])  # no server paths in a public probe


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"id": "a", "question": "Refunds?"}\n{oops\n', "faq.jsonl: no usable rows: line 1: no answer/text value; "
                                                        "line 2: not valid JSON"),
        (None, "faq.jsonl: no such file or directory"),
    ],
)
def test_a_knowledge_base_that_gives_no_document_stops_start_up(tmp_path: Path, content: str | None,
                                                               reason: str) -> None:
    kb = tmp_path / "faq.jsonl"
    if content is not None:
        kb.write_text(content)
    settings = settings_for(tmp_path, kb)
    with pytest.raises(KnowledgeBaseError) as failed:
        open_retriever(settings, progress=False, embedder=HashingEmbedder())
    message = str(failed.value)
    assert f"ASSISTANT_KB_PATH={kb}" in message and "gave no documents" in message and reason in message
    assert "\n" not in message
    # nothing was written: the next start tries again (and fails the same way) instead of serving an empty index
    index = settings.index_dir
    assert list(index.glob("ns/*/CURRENT")) == [] and not (index / "kb_seed.json").exists()


def _app_factory(settings: Settings) -> Any:
    """The real facade with a real index (hashing embedder) and the test fakes for the models."""
    from assistant.engine.backends.fake import FakeBackend
    from assistant.engine.facade import Assistant
    from assistant.engine.store import Store
    from assistant.engine.understanding.policy import AnswerPolicy
    from assistant.engine.understanding.templates import TemplateBook
    from tests.support import FakeClassifier

    retriever = open_retriever(settings, progress=False, embedder=HashingEmbedder())
    return Assistant(settings, backend=FakeBackend(settings), retriever=retriever, understanding=FakeClassifier(),
                     policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                     store=Store(settings.resolved_database_url))


def _settled(client: TestClient) -> Any:
    deadline = time.time() + 30
    while (response := client.get("/readyz")).json()["status"] == "loading" and time.time() < deadline:
        time.sleep(0.05)
    return response


def test_readyz_lists_what_the_first_start_left_out(tmp_path: Path) -> None:
    kb = tmp_path / "faq.jsonl"
    kb.write_text(FAQ)
    with TestClient(create_app(settings_for(tmp_path, kb), factory=_app_factory)) as client:
        ready = _settled(client)
        assert ready.status_code == 200, ready.text
        assert ready.json()["knowledge_base"] == {
            "documents": 2,
            "left_out": [{"where": "faq.jsonl:3", "reason": "duplicate id 'ship' (first on line 1)"}],
            "left_out_total": 1,
        }


def test_readyz_is_an_error_when_the_knowledge_base_gives_no_document(tmp_path: Path) -> None:
    kb = tmp_path / "faq.jsonl"
    kb.write_text('{"id": "a", "question": "Refunds?"}\n')
    with TestClient(create_app(settings_for(tmp_path, kb), factory=_app_factory)) as client:
        failed = _settled(client)
        body = failed.json()
        assert failed.status_code == 503 and body["status"] == "error" and body["ready"] is False
        assert body["detail"].startswith("KnowledgeBaseError: the knowledge base at ASSISTANT_KB_PATH=")
        assert "faq.jsonl: no usable rows: line 1: no answer/text value" in body["detail"]
        assert body["knowledge_base"] is None


def test_console_knowledge_tab_lists_what_the_first_start_left_out(tmp_path: Path) -> None:
    import gradio as gr

    from ui.console.context import ConsoleContext
    from ui.console.tabs.knowledge import KnowledgeTab

    kb = tmp_path / "faq.jsonl"
    wrap = '{"id": "<b>wrap</b>", "question": "Gift wrap?", "answer": "Free."}\n'
    kb.write_text(FAQ + wrap + wrap + '{"id": "fees", "question": "Fees?"}\n')
    settings = settings_for(tmp_path, kb)
    assistant = _app_factory(settings)
    with gr.Blocks():
        tab = KnowledgeTab(ConsoleContext(lambda: assistant, settings))
    stats, table, *_ = tab.listing("default")
    assert sorted(table["document"]) == ["<b>wrap</b>", "pay", "ship"]
    assert 'id="kb-left-out"' in stats and "3 input(s) left out" in stats and "from faq.jsonl" in stats
    assert "<code>faq.jsonl:3</code>: duplicate id &#x27;ship&#x27; (first on line 1)" in stats
    assert "<code>faq.jsonl:5</code>: duplicate id &#x27;&lt;b&gt;wrap&lt;/b&gt;&#x27; (first on line 4)" in stats
    assert "<code>faq.jsonl:6</code>: no answer/text value" in stats and "<b>wrap</b>" not in stats
    other, *_ = tab.listing("site-b")  # only the namespace ingested on first start has the list
    assert "kb-left-out" not in other
