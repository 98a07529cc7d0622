"""`assistant eval answers`: the full pipeline on a tiny KB (fake backend), JSON/plot/calibration, and bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.cli.eval_answers import Outcome, calibrate, cited_doc, replay
from assistant.engine.events import Reply, Source

runner = CliRunner()

KB = [
    {"id": "refunds", "title": "Refund timing",
     "text": "Refunds reach your card within 5 business days after we receive the returned parcel."},
    {"id": "shipping", "title": "Shipping costs",
     "text": "Standard shipping within the Netherlands costs 4.95 euro; orders over 75 euro ship free."},
    {"id": "passwords", "title": "Reset your password",
     "text": "Click 'Forgot password' on the sign-in page; the reset link in the e-mail is valid for 60 minutes."},
]
QUERIES = [
    {"query": "how many days until my refund reaches my card", "relevant": ["refunds"]},
    {"query": "what does standard shipping to the netherlands cost", "relevant": ["shipping"]},
    {"query": "the password reset link expired, how long is it valid", "relevant": ["passwords"]},
    {"query": "what is the capital of mongolia", "relevant": []},
    {"query": "recommend a good pizza recipe with pineapple", "relevant": []},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def invoke(*args):
    return runner.invoke(app, ["eval", "answers", *map(str, args)])


@pytest.fixture
def files(tmp_path):
    return write_jsonl(tmp_path / "kb.jsonl", KB), write_jsonl(tmp_path / "q.jsonl", QUERIES)


def one_line_error(result, *fragments):
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_missing_file(tmp_path, files):
    kb, _ = files
    one_line_error(invoke("--kb", kb, "--queries", tmp_path / "nope.jsonl"), "file not found", "nope.jsonl")


def test_non_json_query_line_names_the_line(tmp_path, files):
    kb, _ = files
    bad = tmp_path / "q.jsonl"
    bad.write_text(json.dumps(QUERIES[0]) + "\n{not json\n")
    one_line_error(invoke("--kb", kb, "--queries", bad), "q.jsonl:2")


def test_non_json_kb_line_names_the_line(tmp_path, files):
    _, queries = files
    bad = tmp_path / "kb.jsonl"
    bad.write_text(json.dumps(KB[0]) + "\n" + json.dumps(KB[1]) + "\nnot json at all\n")
    one_line_error(invoke("--kb", bad, "--queries", queries), "kb.jsonl", "line 3")


def test_missing_key(tmp_path, files):
    kb, _ = files
    bad = write_jsonl(tmp_path / "q.jsonl", [{"question": "where is my parcel", "relevant": ["shipping"]}])
    one_line_error(invoke("--kb", kb, "--queries", bad), "q.jsonl:1", "query")


def test_relevant_id_not_in_kb(tmp_path, files):
    kb, _ = files
    bad = write_jsonl(tmp_path / "q.jsonl", [*QUERIES, {"query": "gift cards?", "relevant": ["gift-cards"]}])
    one_line_error(invoke("--kb", kb, "--queries", bad), "query 6", "'gift-cards' is not in kb.jsonl")


def test_calibrate_needs_both_kinds(tmp_path, files):
    kb, _ = files
    only = write_jsonl(tmp_path / "q.jsonl", QUERIES[:3])
    one_line_error(invoke("--kb", kb, "--queries", only, "--calibrate", "--no-generate"), "--calibrate needs")


def test_cited_source_is_first_marker_that_maps_else_first_source():
    sources = [Source(index=i, doc_id=d, title=d, snippet="", score=0.5) for i, d in enumerate(["a", "b"], 1)]
    reply = Reply(conversation_id="c", message_id="m", answer="See [7] and [2], also [1].", sources=sources)
    assert cited_doc(reply) == "b"
    assert cited_doc(reply.model_copy(update={"answer": "no marker"})) == "a"
    assert cited_doc(reply.model_copy(update={"sources": []})) is None


def _outcome(answerable: bool, score: float | None, route: str, hit: bool = False) -> Outcome:
    return Outcome(query="q", answerable=answerable, route=route, cited="x" if hit else None, hit=hit,
                   top_score=score, top_relevant=answerable, latency_ms=1.0)


def test_replay_and_calibration_pick_the_most_abstaining_threshold_that_answers_enough():
    outcomes = [_outcome(True, s, "generate", hit=True) for s in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)]
    outcomes += [_outcome(False, s, "abstain") for s in (0.05, 0.1, 0.2, 0.35)]
    outcomes.append(_outcome(False, None, "handoff"))  # never reached retrieval: unchanged by any threshold
    at = replay(outcomes, 0.25)
    assert at["answered_rate"] == 1.0 and at["abstain_or_handoff_rate_unanswerable"] == 0.8
    result = calibrate(outcomes, current=0.15)
    # 0.375 would also drop the 0.35 unanswerable but answer only 9/10 (still >= 0.9): that is the pick
    assert result["recommended_threshold"] == pytest.approx(0.375)
    assert result["recommended"]["answered_rate"] == pytest.approx(0.9)
    assert result["recommended"]["abstain_or_handoff_rate_unanswerable"] == 1.0
    assert result["constraint_met"] and result["setting"] == "understanding.min_retrieval_score"
    assert result["at_current"]["abstain_or_handoff_rate_unanswerable"] == pytest.approx(0.6)


def test_replay_keeps_a_turn_the_intent_vouched_for_answered_at_every_threshold():
    vouched = _outcome(True, 0.05, "generate", hit=True)
    vouched.intent_vouches = True
    plain = _outcome(True, 0.05, "abstain")
    unanswerable = _outcome(False, 0.5, "generate")
    unanswerable.intent_vouches = True
    for threshold in (0.0, 0.1, 0.9):
        at = replay([vouched, plain, unanswerable], threshold)
        assert at["abstain_or_handoff_rate_unanswerable"] == 0.0  # vouched for: answered even at 0.9
        assert at["answered_rate"] == at["source_hit_at_1"] == (1.0 if threshold == 0.0 else 0.5)


@pytest.mark.slow
def test_full_pipeline_json_plot_and_calibration(tmp_path, files, model_cache_dir):
    kb, queries = files
    png, details = tmp_path / "answers.png", tmp_path / "details.jsonl"
    result = invoke("--kb", kb, "--queries", queries, "--no-generate", "--json", "--calibrate",
                    "--plot", png, "--details", details,
                    "--intent-model", model_cache_dir / "test-intent-model")
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout.strip().splitlines()[-1])
    assert (m["queries"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["templates"].startswith("none")  # a foreign KB: the sample store's templates stay off
    assert m["backend"] == "fake" and sum(m["routes"].values()) == 5
    assert m["embed_backend"] == "onnx"  # float32 on a CPU: scores do not depend on the CPU's int8 kernels
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    answerable = [r for r in rows if r["answerable"]]
    assert m["source_hit_at_1"] == pytest.approx(sum(r["hit"] for r in answerable) / 3, abs=1e-4)
    assert m["answered_rate"] == pytest.approx(
        sum(r["route"] in ("generate", "template") for r in answerable) / 3, abs=1e-4)
    unanswerable = [r for r in rows if not r["answerable"]]
    assert m["abstain_or_handoff_rate_unanswerable"] == pytest.approx(
        sum(r["route"] in ("abstain", "handoff") for r in unanswerable) / 2, abs=1e-4)
    # three distinct, clearly worded questions over three documents: retrieval finds each one
    assert m["source_hit_at_1"] == 1.0 and m["answered_rate"] == 1.0
    assert all(r["cited"] is None for r in rows if r["route"] in ("abstain", "handoff"))
    assert m["latency_ms_p50"] > 0
    cal = m["calibration"]
    assert m["recommended_threshold"] == cal["recommended_threshold"]
    assert cal["at_current"]["answered_rate"] == pytest.approx(m["answered_rate"])
    assert cal["at_current"]["abstain_or_handoff_rate_unanswerable"] == pytest.approx(
        m["abstain_or_handoff_rate_unanswerable"])
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
