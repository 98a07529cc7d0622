"""The sample help centre is ingested on first start and retrieves the right page for sample questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.engine.knowledge import SAMPLE_KB, open_retriever
from assistant.engine.settings import Settings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("kb"))
    r = open_retriever(settings, progress=False)
    yield r, settings
    r.close()


def test_sample_kb_is_ingested_once_and_reused(retriever) -> None:
    r, settings = retriever
    pages = len(list(SAMPLE_KB.glob("*.md")))
    assert 20 <= pages <= 40
    stats = r.stats("default")
    assert stats["documents"] >= pages and stats["chunks"] >= stats["documents"]
    again = open_retriever(settings, progress=False)  # second start: nothing re-ingested
    assert again.stats("default")["documents"] == stats["documents"]
    assert again.stats("default").get("version") == stats.get("version")
    again.close()


def test_top_source_is_the_right_page_for_sample_questions(retriever) -> None:
    r, _ = retriever
    rows = [json.loads(line) for line in (ROOT / "bench/data/store_questions.jsonl").read_text().splitlines()]
    sample = rows[:8]
    misses = []
    for row in sample:
        top = r.search(row["query"], k=3, namespace="default")[0]
        if top.doc_id not in row["relevant"]:
            misses.append((row["query"], top.doc_id, row["relevant"]))
    assert misses == []
