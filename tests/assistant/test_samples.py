"""Integrity of the bundled Northwind sample content and the data sets built from it.

Run: pytest tests/assistant/test_samples.py

Checks that every doc id referenced anywhere exists, the CSV/YAML/JSONL files parse with the expected shape,
templates only use known intents, doc ids and slots, and cross-file facts (contact details) agree.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import string
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from assistant.engine.understanding.slots import EXTRACTORS
from assistant.engine.understanding.templates import TemplateBook
from assistant.samples import (
    FAQ_CSV,
    INTENTS_CSV,
    KB_DIR,
    OUT_OF_SCOPE_INTENT,
    TEMPLATES_YAML,
)

ROOT = Path(__file__).resolve().parents[2]
BENCH_DATA = ROOT / "bench" / "data"
TRANSCRIPTS = ROOT / "finetune" / "samples" / "transcripts.jsonl"
QA_CSV = ROOT / "finetune" / "samples" / "qa.csv"
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EXTRACTED_SLOTS = set(EXTRACTORS)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def read_jsonl(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(KB_DIR.glob("*.md"))}


@pytest.fixture(scope="module")
def doc_ids(pages: dict[str, str]) -> set[str]:
    return set(pages)


@pytest.fixture(scope="module")
def intent_rows() -> list[dict[str, str]]:
    header, rows = read_csv(INTENTS_CSV)
    assert header == ["text", "intent"]
    return rows


@pytest.fixture(scope="module")
def templates() -> dict:
    return yaml.safe_load(TEMPLATES_YAML.read_text(encoding="utf-8"))


def test_kb_pages_are_titled_sectioned_and_sized(pages: dict[str, str]) -> None:
    assert 24 <= len(pages) <= 30
    for doc_id, text in pages.items():
        assert KEBAB.match(doc_id), doc_id
        lines = text.splitlines()
        assert lines[0].startswith("# ") and not lines[0].startswith("## "), doc_id
        assert sum(line.startswith("## ") for line in lines) >= 2, doc_id
        assert sum(line.startswith("# ") for line in lines) == 1, doc_id
        assert 150 <= len(text.split()) <= 450, (doc_id, len(text.split()))


def test_kb_cross_references_name_existing_pages(pages: dict[str, str]) -> None:
    titles = {text.splitlines()[0][2:].strip() for text in pages.values()}
    # "See "A" and "B"" / "read "A"" point readers at other pages by their exact title.
    ref_group = re.compile(r'(?:[Ss]ee|read)\s+("[^"]+"(?:,?\s+(?:and|or)\s+"[^"]+")*)')
    refs = 0
    for doc_id, text in pages.items():
        for group in ref_group.findall(text):
            for title in re.findall(r'"([^"]+)"', group):
                refs += 1
                assert " ".join(title.split()) in titles, (doc_id, title)
    assert refs >= 20


def test_faq_csv() -> None:
    header, rows = read_csv(FAQ_CSV)
    assert header == ["question", "answer"]
    assert 15 <= len(rows) <= 20
    assert all(r["question"].strip().endswith("?") and r["answer"].strip() for r in rows)
    assert len({r["question"].lower() for r in rows}) == len(rows)


def test_intents_have_enough_distinct_examples(intent_rows: list[dict[str, str]]) -> None:
    counts = Counter(r["intent"] for r in intent_rows)
    in_scope = {name: n for name, n in counts.items() if name != OUT_OF_SCOPE_INTENT}
    assert len(in_scope) >= 20, sorted(in_scope)
    assert min(in_scope.values()) >= 20, in_scope
    assert counts[OUT_OF_SCOPE_INTENT] >= 50
    assert {"human_agent", "greeting", "track_order"} <= set(in_scope)
    texts = [r["text"].strip().lower() for r in intent_rows]
    assert all(texts) and len(set(texts)) == len(texts), "duplicate or empty utterances"
    assert all(re.fullmatch(r"[a-z_]+", name) for name in counts)
    assert sum("NW-" in r["text"] for r in intent_rows) >= 15, "too few utterances carry an order number"


def test_templates_reference_known_intents_docs_and_slots(
    templates: dict, intent_rows: list[dict[str, str]], doc_ids: set[str]
) -> None:
    assert set(templates) == {"slots", "intents"}
    slots: dict[str, str] = templates["slots"]
    assert all(isinstance(v, str) and v for v in slots.values())
    known_intents = {r["intent"] for r in intent_rows} - {OUT_OF_SCOPE_INTENT}
    assert 8 <= len(templates["intents"]) <= 12
    ids: list[str] = []
    for intent, spec in templates["intents"].items():
        assert intent in known_intents, intent
        assert 0.0 < spec["threshold"] <= 1.0
        assert spec["templates"], intent
        for tpl in spec["templates"]:
            ids.append(tpl["id"])
            assert tpl["id"].startswith(f"{intent}."), tpl["id"]
            assert set(tpl["sources"]) <= doc_ids, tpl["sources"]
            used = placeholders(tpl["text"])
            requires = set(tpl.get("requires", []))
            assert requires <= EXTRACTED_SLOTS, requires
            assert used <= set(slots) | EXTRACTED_SLOTS, used - set(slots)
            assert used & EXTRACTED_SLOTS <= requires, f"{tpl['id']} uses an extracted slot without requires"
            rendered = tpl["text"].format(**slots, order_id="#NW-48213")
            assert "{" not in rendered and "}" not in rendered
        # A template that needs an extracted value must have a fallback for messages without it.
        if any(t.get("requires") for t in spec["templates"]):
            assert any(not t.get("requires") for t in spec["templates"]), intent
    assert len(ids) == len(set(ids))


def test_engine_loads_templates_and_picks_the_order_variant() -> None:
    book = TemplateBook.load(TEMPLATES_YAML)
    with_id = book.select("track_order", "where is order NW-51790?")
    without = book.select("track_order", "where is my parcel?")
    assert with_id is not None and without is not None
    assert (with_id.template_id, without.template_id) == ("track_order.with_order_id", "track_order.default")
    assert "#NW-51790" in with_id.text
    assert "order-tracking" in with_id.sources


def test_template_facts_match_the_knowledge_base(templates: dict, pages: dict[str, str]) -> None:
    kb_text = "\n".join(pages.values())
    slots = templates["slots"]
    for key in (
        "support_email",
        "support_phone",
        "tracking_url",
        "returns_url",
        "free_shipping_eu",
        "free_shipping_other",
    ):
        assert slots[key] in kb_text, key


def test_each_template_says_only_what_its_cited_pages_say(pages: dict[str, str]) -> None:
    """The faithfulness check of `assistant eval answers`, applied to every sample template with its slot defaults:
    a curated reply that drifts from its page (a price, an hour, a country) fails here, not in front of a customer."""
    from assistant.engine.answer_checks import faithful

    book = TemplateBook.load(TEMPLATES_YAML)
    checked = 0
    for template in (t for ts in book.by_intent.values() for t in ts if t.sources and not t.requires):
        passages = [SimpleNamespace(title=doc, text=pages[doc]) for doc in template.sources]
        assert faithful(template.text.format(**book.defaults), passages), template.id
        checked += 1
    assert checked >= 9


def test_contact_details_agree_everywhere(templates: dict, pages: dict[str, str]) -> None:
    slots = templates["slots"]
    company_emails = {slots["support_email"], "privacy@northwind.example"}
    texts = [
        *pages.values(),
        FAQ_CSV.read_text(encoding="utf-8"),
        TRANSCRIPTS.read_text(encoding="utf-8"),
        QA_CSV.read_text(encoding="utf-8"),
    ]
    for text in texts:
        assert set(re.findall(r"[\w.+-]+@northwind\.example", text)) <= company_emails
        assert set(re.findall(r"\+31 20 [\d ]+\d", text)) <= {slots["support_phone"]}


def test_transcripts_are_well_formed_chats() -> None:
    convs = read_jsonl(TRANSCRIPTS)
    assert len(convs) >= 160
    assistant_turns = 0
    multi_turn = 0
    for conv in convs:
        assert set(conv) == {"messages"}
        roles = [m["role"] for m in conv["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and roles, roles
        assert all(isinstance(m["content"], str) and m["content"].strip() for m in conv["messages"])
        assistant_turns += roles.count("assistant")
        multi_turn += len(roles) > 2
    assert assistant_turns >= 150
    assert multi_turn >= 15
    text = TRANSCRIPTS.read_text(encoding="utf-8")
    # Redaction needs real-looking PII to work on.
    assert "4111 1111 1111 1111" in text
    assert re.search(r"[\w.]+@example\.(?:com|org|net|de|nl|fr)", text)


def test_finetune_qa_csv() -> None:
    header, rows = read_csv(QA_CSV)
    assert header == ["question", "answer"]
    assert 30 <= len(rows) <= 50
    faq_questions = {r["question"].lower() for r in read_csv(FAQ_CSV)[1]}
    assert not faq_questions & {r["question"].lower() for r in rows}


def test_store_questions_point_at_existing_docs(doc_ids: set[str]) -> None:
    rows = read_jsonl(BENCH_DATA / "store_questions.jsonl")
    assert len(rows) == 24
    for row in rows:
        assert set(row) == {"query", "relevant"}
        assert row["relevant"] and set(row["relevant"]) <= doc_ids, row


def test_store_eval_queries_mix_answerable_and_not(doc_ids: set[str]) -> None:
    rows = read_jsonl(BENCH_DATA / "store_eval_queries.jsonl")
    answerable = [r for r in rows if r["relevant"]]
    assert len(answerable) == 60 and len(rows) - len(answerable) == 20
    assert all(set(r["relevant"]) <= doc_ids for r in rows)
    queries = [r["query"].lower() for r in rows]
    assert len(set(queries)) == len(queries)
    # Paraphrases, not titles: no query may simply be a page's title.
    titles = {
        KB_DIR.joinpath(f"{d}.md").read_text(encoding="utf-8").splitlines()[0][2:].lower() for d in doc_ids
    }
    assert not titles & set(queries)


def test_store_kb_jsonl_is_up_to_date(pages: dict[str, str]) -> None:
    spec = importlib.util.spec_from_file_location("make_store_kb", BENCH_DATA / "make_store_kb.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = [module.page_record(KB_DIR / f"{doc_id}.md") for doc_id in sorted(pages)]
    assert read_jsonl(BENCH_DATA / "store_kb.jsonl") == expected, "run: python bench/data/make_store_kb.py"
