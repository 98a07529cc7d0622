"""`assistant kb ...` and `assistant eval retrieval` through the real CLI (real MiniLM, real index folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "returns.md").write_text("# Returns\n\nReturn unworn items within 30 days for a refund.\n")
    (kb / "faq.csv").write_text("question,answer\nDo you ship to Canada?,Yes; delivery takes 7-10 days.\n")
    (kb / "bad.jsonl").write_text("{oops\n")
    return kb


def test_kb_add_search_stats_rm(env: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["kb", "add", str(env), "--json"])
    # the bad file is left out and the exit code says so; the two good ones are in the index
    assert added.exit_code == 1, added.output
    report = json.loads(added.stdout.strip().splitlines()[-1])
    assert report["added"] == 2 and report["errors"][0][0].endswith("bad.jsonl")
    assert "1 input(s) left out" in added.stderr
    keep_going = runner.invoke(app, ["kb", "add", str(env), "--keep-going"])
    assert keep_going.exit_code == 0 and "bad.jsonl" in keep_going.stderr
    (env / "bad.jsonl").unlink()
    again = runner.invoke(app, ["kb", "add", str(env), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["skipped"] == 2
    found = runner.invoke(app, ["kb", "search", "can I send items back", "--json"])
    assert found.exit_code == 0
    hits = json.loads(found.stdout.strip().splitlines()[-1])["hits"]
    assert hits[0]["doc_id"] == "returns" and 0 < hits[0]["score"] <= 1
    stats = runner.invoke(app, ["kb", "stats", "--json"])
    assert json.loads(stats.stdout.strip().splitlines()[-1])["documents"] == 2
    assert runner.invoke(app, ["kb", "rm", "faq#1"]).exit_code == 0
    missing = runner.invoke(app, ["kb", "rm", "faq#1"])
    assert missing.exit_code != 0 and "no such document" in missing.output
    bad_mode = runner.invoke(app, ["kb", "search", "x", "--mode", "fuzzy"])
    assert bad_mode.exit_code != 0 and "unknown search mode" in bad_mode.output


def test_kb_add_reports_bad_faq_rows_by_line_and_ingests_the_rest(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "var"))
    faq = tmp_path / "faq.jsonl"
    faq.write_text(
        '{"id": "ship", "question": "Do you ship abroad?", "answer": "Yes, to 30 countries."}\n'
        '{"id": "ship", "question": "Shipping?", "answer": "A later copy."}\n'
        '{"id": "wrap", "question": "Gift wrap?"}\n'
        '{"id": "pay", "question": "Which cards?", "answer": "Visa and Mastercard."}\n'
    )
    runner = CliRunner()
    added = runner.invoke(app, ["kb", "add", str(faq), "--json"])
    assert added.exit_code == 1, added.output  # rows were left out: a script can tell
    report = json.loads(added.stdout.strip().splitlines()[-1])
    assert report["added"] == 2
    assert report["errors"] == [[f"{faq}:2", "duplicate id 'ship' (first on line 1)"],
                                [f"{faq}:3", "no answer/text value"]]
    assert f"error: {faq}:2: duplicate id 'ship' (first on line 1)" in added.stderr
    assert f"error: {faq}:3: no answer/text value" in added.stderr and "2 input(s) left out" in added.stderr
    keep_going = runner.invoke(app, ["kb", "add", str(faq), "--keep-going"])
    assert keep_going.exit_code == 0 and f"{faq}:3: no answer/text value" in keep_going.stderr
    listed = runner.invoke(app, ["kb", "list", "--json"])
    assert sorted(d["id"] for d in json.loads(listed.stdout.strip().splitlines()[-1])["documents"]) == ["pay", "ship"]


def test_kb_add_and_ingest_with_a_base_url_link_a_published_folder(env: Path) -> None:
    """#28: `--base-url` gives documents without a url of their own base + their file's path."""
    (env / "bad.jsonl").unlink()
    runner = CliRunner()
    bad = runner.invoke(app, ["kb", "add", str(env), "--base-url", "javascript:alert(1)"])
    assert bad.exit_code != 0 and "base URL" in bad.output
    added = runner.invoke(app, ["kb", "add", str(env), "--base-url", "https://help.example.com/", "--json"])
    assert added.exit_code == 0, added.output
    hits = runner.invoke(app, ["kb", "search", "return unworn items", "-k", "1"])
    assert "https://help.example.com/returns" in hits.output
    listed = json.loads(runner.invoke(app, ["kb", "list", "--json"]).stdout.strip().splitlines()[-1])
    assert {d["id"]: d["url"] for d in listed["documents"]} == {"returns": "https://help.example.com/returns",
                                                                  "faq#1": "https://help.example.com/faq"}
    again = runner.invoke(app, ["ingest", str(env), "--namespace", "docs", "--base-url", "https://docs.example.com"])
    assert again.exit_code == 0, again.output
    listed = json.loads(runner.invoke(app, ["kb", "list", "-n", "docs", "--json"]).stdout.strip().splitlines()[-1])
    assert sorted(d["url"] for d in listed["documents"]) == ["https://docs.example.com/faq",
                                                             "https://docs.example.com/returns"]


def test_eval_retrieval_json_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "var"))
    kb = tmp_path / "kb.jsonl"
    kb.write_text(
        '{"id": "ship", "title": "How long does shipping take?", "text": "Orders arrive in 3-5 days."}\n'
        '{"id": "return", "title": "Can I return an item?", "text": "Yes, within 30 days."}\n'
        '{"id": "pay", "title": "Which payment methods do you accept?", "text": "Cards and PayPal."}\n'
    )
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"query": "when will my parcel get here", "relevant": ["ship"]}\n'
        '{"query": "send something back", "relevant": ["return"]}\n'
        '{"query": "can I pay with paypal", "relevant": ["pay"]}\n'
    )
    runner = CliRunner()
    for mode in ("hybrid", "bm25"):
        result = runner.invoke(
            app, ["eval", "retrieval", "--kb", str(kb), "--queries", str(queries), "--mode", mode, "--json"]
        )
        assert result.exit_code == 0, result.output
        metrics = json.loads(result.stdout.strip().splitlines()[-1])
        for key in (
            "p_at_1",
            "mrr",
            "ndcg_at_10",
            "recall_at_10",
            "queries",
            "latency_ms_p50",
            "latency_ms_p99",
        ):
            assert key in metrics
        assert metrics["queries"] == 3 and 0 <= metrics["ndcg_at_10"] <= 1
        assert metrics["embed_backend"] == "onnx"  # float32 on a CPU; reported because int8 differs per CPU
        if mode != "bm25":
            assert metrics["p_at_1"] == 1.0
    missing = runner.invoke(
        app, ["eval", "retrieval", "--kb", str(tmp_path / "nope.jsonl"), "--queries", str(queries)]
    )
    assert missing.exit_code != 0 and "file not found" in missing.output
