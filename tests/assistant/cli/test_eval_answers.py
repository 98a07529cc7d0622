"""`assistant eval answers`: the full pipeline on a tiny KB (fake backend), JSON/plot/calibration, the
answer-text metrics (similarity to reference answers, faithfulness, defects) on hand-made outcomes, and bad
input."""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.cli.eval_answers import Outcome, cited_doc, compute_metrics, plot, run_queries
from assistant.cli.eval_calibration import calibrate, replay
from assistant.cli.eval_text import add_similarities, judge, similarities
from assistant.engine.answer_checks import DEFECTS, faithful
from assistant.engine.events import Reply, Source
from retrieval.evaluation import Query, load_queries
from tests.support import FakeHit

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


@pytest.mark.parametrize("bad", ["And for an exchange?", [5], [{"role": "user", "content": " "}]])
def test_a_history_that_is_not_messages_names_the_line(tmp_path, files, bad):
    kb, _ = files
    queries = write_jsonl(tmp_path / "q.jsonl", [QUERIES[0], {**QUERIES[0], "history": bad}])
    one_line_error(invoke("--kb", kb, "--queries", queries), "q.jsonl:2", "history")


def test_a_follow_up_keeps_the_customer_messages_of_its_history(tmp_path):
    turns = [{"role": "user", "content": "How do I return an item?"}, {"role": "assistant", "content": "Use the portal."}]
    path = write_jsonl(tmp_path / "q.jsonl", [{"query": "And for an exchange?", "relevant": ["x"], "history": turns},
                                              {"query": "And the fee?", "relevant": [], "history": ["Do you ship?"]}])
    assert [q.history for q in load_queries(path)] == [("How do I return an item?",), ("Do you ship?",)]


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


def test_a_template_is_judged_against_the_whole_pages_it_cites():
    page = SimpleNamespace(title="Contact", text="Chat: Monday to Friday 08:00-20:00.\n\nPhone: +31 20 555 0142.")
    chunk = FakeHit("contact", "Contact", "Chat: Monday to Friday 08:00-20:00.", 0.9)
    source = Source(index=1, doc_id="contact", title="Contact", snippet="", score=0.9, chunk_id=chunk.chunk_id)
    reply = Reply(conversation_id="c", message_id="m", route="template", sources=[source],
                  answer="Chat with us Monday to Friday 08:00-20:00, or call +31 20 555 0142.")
    assert judge(reply, "How can I reach you?", [chunk]) == ([], False)  # the phone number is on another chunk
    assert judge(reply, "How can I reach you?", [chunk], {"contact": page}) == ([], True)
    wrong = reply.model_copy(update={"answer": "Call +31 20 555 9999 any day."})
    assert judge(wrong, "How can I reach you?", [chunk], {"contact": page})[1] is False


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


@pytest.mark.slow
def test_full_pipeline_json_plot_and_calibration(tmp_path, files, model_cache_dir):
    kb, _ = files
    references = {q["relevant"][0]: next(d["text"] for d in KB if d["id"] == q["relevant"][0])
                  for q in QUERIES if q["relevant"]}
    queries = write_jsonl(tmp_path / "q.jsonl", [{**q, "reference_answer": references[q["relevant"][0]]}
                                                 if q["relevant"] else q for q in QUERIES])
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
    # the answer text: every answerable query answered, from (a sentence of) the page its reference is
    assert m["reference_answers"] == 3 and list(m["defects"]) == list(DEFECTS)
    assert 0.5 < m["answer_similarity_mean_answered"] <= 1.0
    assert m["answer_similarity_mean_all"] == pytest.approx(m["answer_similarity_mean_answered"], abs=1e-4)
    assert m["faithfulness_checked"] >= 3 and 0.0 <= m["faithfulness"] <= 1.0
    assert all(isinstance(r["answer_similarity"], float) for r in answerable)
    assert all(isinstance(r["defects"], list) and r["faithful"] in (True, False, None) for r in rows)


# -- reference answers and the answer-text metrics ----------------------------------------------------------
@pytest.mark.parametrize("bad", [5, ["Refunds reach your card within 5 business days."], {"text": "x"}, "  "])
def test_reference_answer_that_is_not_a_string_names_the_file_and_line(tmp_path, files, bad):
    kb, _ = files
    rows = [{**QUERIES[0], "reference_answer": "Within 5 business days."},
            {**QUERIES[1], "reference_answer": bad}]
    result = invoke("--kb", kb, "--queries", write_jsonl(tmp_path / "q.jsonl", rows), "--no-generate")
    one_line_error(result, "q.jsonl:2", "reference_answer must be a non-empty string")
    assert result.stdout == ""  # failed before any index, model or report


def test_reference_answer_is_optional_and_null_means_absent(tmp_path):
    rows = [{**QUERIES[0], "reference_answer": "Within 5 business days."},
            {**QUERIES[1], "reference_answer": None}, QUERIES[2]]
    assert [q.reference_answer for q in load_queries(write_jsonl(tmp_path / "q.jsonl", rows))] == [
        "Within 5 business days.", None, None]


def _text_outcome(route: str, *, reference: str | None = "ref", similarity: float | None = None,
                  defects: tuple[str, ...] = (), is_faithful: bool | None = None) -> Outcome:
    outcome = _outcome(True, 0.9, route, hit=route != "abstain")
    outcome.answer = "" if route in ("abstain", "handoff") else "An answer [1]."
    outcome.reference_answer, outcome.answer_similarity = reference, similarity
    outcome.defects, outcome.faithful = list(defects), is_faithful
    return outcome


def test_text_metrics_on_hand_made_outcomes():
    outcomes = [
        _text_outcome("generate", similarity=0.8, is_faithful=True),
        _text_outcome("generate", similarity=0.4, defects=("loop", "unfinished"), is_faithful=False),
        _text_outcome("template", similarity=0.9),  # its cited page was not among the hits: not checked
        _text_outcome("abstain"),  # has a reference: counts 0 in the mean over all
        _text_outcome("handoff", reference=None),
        _text_outcome("generate", reference=None, defects=("echo",), is_faithful=True),
    ]
    m = compute_metrics(outcomes)
    assert m["answer_similarity_mean_all"] == pytest.approx((0.8 + 0.4 + 0.9 + 0.0) / 4)
    assert m["answer_similarity_mean_answered"] == pytest.approx((0.8 + 0.4 + 0.9) / 3, abs=1e-4)
    assert m["reference_answers"] == 4
    assert m["faithfulness"] == pytest.approx(2 / 3, abs=1e-4) and m["faithfulness_checked"] == 3
    assert m["defects"] == {d: {"loop": 1, "unfinished": 1, "echo": 1}.get(d, 0) for d in DEFECTS}
    assert list(m["defects"]) == list(DEFECTS)
    assert m["defective_rate"] == pytest.approx(2 / 4)
    json.dumps(m)  # the --json line


def test_text_metrics_without_references_or_embedder_are_not_zero():
    m = compute_metrics([_text_outcome("generate", reference=None), _text_outcome("abstain", reference=None)])
    assert m["answer_similarity_mean_all"] is None and m["reference_answers"] == 0
    unmeasured = compute_metrics([_text_outcome("generate"), _text_outcome("abstain")])  # no embedder ran
    assert unmeasured["answer_similarity_mean_all"] is None
    assert unmeasured["answer_similarity_mean_answered"] is None
    none_answered = compute_metrics([_text_outcome("abstain"), _text_outcome("handoff")])
    assert none_answered["answer_similarity_mean_all"] == 0.0 and none_answered["faithfulness"] is None


def _bag_encoder(calls: list[list[str]]):
    """Word-count vectors: equal word bags embed alike, no model."""
    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        out = np.zeros((len(texts), 128), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, zlib.crc32(word.encode()) % 128] += 1.0
        return out
    return encode


def test_similarity_strips_markers_and_embeds_every_text_once():
    calls: list[list[str]] = []
    encode = _bag_encoder(calls)
    got = similarities(encode, [("Refunds take 5 days [1].", "Refunds take 5 days."),
                                ("Sizes run small [2].", "Refunds take 5 days.")])
    assert got[0] == pytest.approx(1.0) and got[1] < 0.5
    assert calls == [["Refunds take 5 days.", "Refunds take 5 days.", "Sizes run small.",
                      "Refunds take 5 days."]]
    answered, empty = _text_outcome("generate"), _text_outcome("template")
    abstained = _text_outcome("abstain")
    answered.answer, answered.reference_answer = "Refunds take 5 days [1].", "Refunds take 5 days."
    empty.answer = "[1]"
    add_similarities([answered, empty, abstained], encode)
    assert answered.answer_similarity == pytest.approx(1.0)
    assert empty.answer_similarity == 0.0 and abstained.answer_similarity is None
    assert len(calls) == 2  # one batch for the whole run


LONG = FakeHit("refunds", "Refund timing",
               "Returns are checked in our warehouse in Utrecht by the returns team, who look at every item, "
               "its tags and its packaging, and who write down anything that is missing or damaged so that "
               "the refund matches what came back. Please pack the items well and keep the receipt of the "
               "carrier until the refund arrives. Refunds reach your card within 5 business days after the "
               "check.", 0.9, chunk_id="refunds#0")


def _reply(answer: str, sources: list[Source], route: str = "generate") -> Reply:
    return Reply(conversation_id="c", message_id="m", answer=answer, sources=sources, route=route)


def test_judge_reads_the_cited_hits_whole_not_the_300_character_snippet():
    assert LONG.text.index("5 business days") > 300
    source = Source(index=1, doc_id="refunds", chunk_id="refunds#0", title=LONG.title,
                    snippet=LONG.text[:300], score=0.9)
    reply = _reply("Refunds reach your card within 5 business days after the check [1].", [source])
    assert judge(reply, "How long does a refund take?", [LONG]) == ([], True)
    assert not faithful(reply.answer, [SimpleNamespace(title=source.title, text=source.snippet)])
    wrong = _reply("Refunds reach your card within 2 business days [2].", [source])
    assert judge(wrong, "How long does a refund take?", [LONG]) == (["dangling_citation"], False)


def test_judge_cannot_check_a_template_citing_a_page_the_search_missed():
    cited = Source(index=1, doc_id="warranty", title="warranty", snippet="", score=1.0)
    reply = _reply("Our jackets carry a two-year warranty [1].", [cited], route="template")
    assert judge(reply, "warranty?", [LONG]) == ([], None)
    assert judge(_reply("Hi! How can I help?", [], route="smalltalk"), "hi", []) == ([], None)


def test_run_queries_judges_and_compares_every_answer(tmp_path, monkeypatch):
    from assistant.engine.backends.fake import FakeBackend
    from assistant.engine.facade import Assistant
    from assistant.engine.settings import Settings
    from assistant.engine.store import Store
    from assistant.engine.understanding.policy import AnswerPolicy
    from assistant.engine.understanding.templates import TemplateBook
    from tests.support import FakeClassifier, FakeRetriever

    settings = Settings(data_dir=tmp_path)
    retriever = FakeRetriever([LONG])
    policy = AnswerPolicy(settings.understanding, TemplateBook.empty())
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=retriever,
                    understanding=FakeClassifier(), policy=policy,
                    store=Store(settings.resolved_database_url))
    calls: list[list[str]] = []
    retriever.embedder = SimpleNamespace(encode=_bag_encoder(calls))  # what the eval embeds answers with
    monkeypatch.setattr(Assistant, "from_settings", classmethod(lambda cls, *a, **kw: bot))
    reference = "Returns are checked in our warehouse in Utrecht by the returns team."
    query = Query("How long does a refund take?", frozenset({"refunds"}), reference)
    [outcome] = asyncio.run(run_queries(settings, [query], progress=False))
    assert outcome.answered and outcome.reference_answer == reference
    assert outcome.faithful is True and outcome.defects == [], outcome.answer
    assert 0.5 < outcome.answer_similarity <= 1.0 and len(calls) == 1
    row = json.loads(json.dumps(outcome.__dict__))  # what --details writes per query
    assert {"answer", "answer_similarity", "defects", "faithful", "reference_answer"} <= set(row)


def test_plot_adds_the_similarity_histogram_and_the_defect_bars(tmp_path):
    outcomes = [_text_outcome("generate", similarity=s, defects=d)
                for s, d in ((0.8, ()), (0.3, ("loop",)), (0.6, ("unfinished", "loop")))]
    outcomes += [_text_outcome("abstain"), _outcome(False, 0.1, "abstain")]
    png = tmp_path / "answers.png"
    plot(outcomes, calibrate(outcomes, current=0.5), png, "Answers")
    data = png.read_bytes()
    assert data[:4] == b"\x89PNG" and int.from_bytes(data[16:20], "big") == 4 * 5.5 * 110  # four panels wide
    plot(outcomes, None, png, "Answers")
    assert int.from_bytes(png.read_bytes()[16:20], "big") == 3 * 5.5 * 110  # confusion, similarity, defects
