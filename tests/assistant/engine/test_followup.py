"""standalone_question: elliptical follow-ups take the previous question's subject, other questions stay as typed.

No model and no index: the optional `search` is a fake that ranks fixed page ids by the words it sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.engine.followup import (
    MAX_NEW_WORDS,
    content_words,
    is_elliptical,
    is_followup,
    standalone_question,
)

RETURN_TURN = [
    ("user", "How do I return an item?"),
    ("assistant", "Start a return in the returns portal with your order number and e-mail."),
]


@dataclass
class Message:
    """A stored message as the facade's history holds it."""

    role: str
    content: str


def test_elliptical_followup_gets_the_previous_questions_subject() -> None:
    text = standalone_question("And for an exchange?", RETURN_TURN)
    assert text.startswith("And for an exchange?")
    assert "return" in text and "item" in text
    # the assistant's reply is not mixed in
    assert "portal" not in text


@pytest.mark.parametrize(
    ("question", "previous", "subject"),
    [
        ("what about Switzerland?", "How much is standard shipping to Germany?", "shipping"),
        ("how long is it valid?", "How do I get the student discount?", "student"),
        ("and if I paid by PayPal?", "When will I get my money back after returning something?", "money"),
        ("and on Linux?", "How do I set up Spark in Google Colab?", "Spark"),
    ],
)
def test_short_followups_are_completed(question: str, previous: str, subject: str) -> None:
    text = standalone_question(question, [("user", previous), ("assistant", "An answer.")])
    assert text.startswith(question)
    assert subject in text.split()


def test_words_already_in_the_followup_are_not_repeated() -> None:
    text = standalone_question(
        "can I combine it with my student discount?",
        [("user", "How do I use a discount code?"), ("assistant", "Enter it at checkout.")],
    )
    assert text == "can I combine it with my student discount? use code"


@pytest.mark.parametrize(
    ("question", "previous"),
    [
        ("Where can I check my gift card balance?", "How much is express shipping to Belgium?"),
        ("My parcel shows delivered but I never got it", "What is the student discount?"),
        (
            "Cannot connect to the Docker daemon, is the docker daemon running?",
            "What are the prerequisites for the course?",
        ),
    ],
)
def test_topic_changes_are_returned_unchanged(question: str, previous: str) -> None:
    history = [("user", previous), ("assistant", "An answer.")]
    assert not is_followup(question, previous)
    assert standalone_question(question, history) == question


def test_a_standalone_question_with_many_words_of_its_own_is_unchanged() -> None:
    question = "How many business days does express delivery to Norway take?"
    assert len(content_words(question)) > MAX_NEW_WORDS
    assert standalone_question(question, RETURN_TURN) == question


def test_without_history_the_question_is_returned() -> None:
    assert standalone_question("And for an exchange?", []) == "And for an exchange?"
    # only assistant turns (a greeting) is no earlier question either
    assert standalone_question("and for kids?", [("assistant", "Hello! How can I help?")]) == "and for kids?"


def test_history_as_stored_messages_and_dicts() -> None:
    messages = [Message("user", "How do I return an item?"), Message("assistant", "Use the portal.")]
    dicts = [
        {"role": "user", "content": "How do I return an item?"},
        {"role": "assistant", "content": "Use it."},
    ]
    expected = standalone_question("And for an exchange?", RETURN_TURN)
    assert standalone_question("And for an exchange?", messages) == expected
    assert standalone_question("And for an exchange?", dicts) == expected


def test_only_the_latest_user_question_gives_the_subject() -> None:
    history = [
        ("user", "How do I reset my password?"),
        ("assistant", "Click 'Forgot password?'."),
        *RETURN_TURN,
    ]
    text = standalone_question("And for an exchange?", history)
    assert "return" in text
    assert "password" not in text


def test_a_chain_of_followups_keeps_the_first_subject() -> None:
    history = [*RETURN_TURN, ("user", "And for an exchange?"), ("assistant", "Use the portal too.")]
    text = standalone_question("how long does that take?", history)
    assert text.startswith("how long does that take?")
    assert "exchange" in text and "return" in text


def test_context_carried_over_is_bounded() -> None:
    long_question = "Tell me about " + " ".join(f"topic{i}" for i in range(40))
    history = [("user", long_question), ("assistant", "Sure.")]
    for _ in range(5):
        history += [("user", "and more?"), ("assistant", "Sure.")]
    text = standalone_question("and else?", history)
    assert len(text.split()) <= len(["and", "else?"]) + 16


class FakeSearch:
    """Ranks page ids by a fixed table of texts; records what it was asked."""

    def __init__(self, rankings: dict[str, list[str]]) -> None:
        self.rankings = rankings
        self.asked: list[str] = []

    def __call__(self, text: str) -> list[str]:
        self.asked.append(text)
        return self.rankings[text]


@dataclass
class Hit:
    doc_id: str
    score: float


HOMEWORK = [("user", "Where can I find the homework deadlines?"), ("assistant", "In the deadlines sheet.")]


def test_search_keeps_the_followup_when_it_picks_the_rewrites_runner_up() -> None:
    rewritten = standalone_question("and if I'm late?", HOMEWORK)
    assert rewritten != "and if I'm late?"
    search = FakeSearch(
        {rewritten: ["deadlines", "late-submissions", "x"], "and if I'm late?": ["late-submissions"]}
    )
    assert standalone_question("and if I'm late?", HOMEWORK, search=search) == "and if I'm late?"
    assert set(search.asked) == {rewritten, "and if I'm late?"}


@pytest.mark.parametrize(
    "own_ranking",
    [
        ["deadlines"],
        ["something-else"],
        [],
    ],  # agrees with the rewrite's first page; ranks a third page; no hits
)
def test_search_keeps_the_rewrite_otherwise(own_ranking: list[str]) -> None:
    rewritten = standalone_question("and if I'm late?", HOMEWORK)
    search = FakeSearch({rewritten: ["deadlines", "late-submissions"], "and if I'm late?": own_ranking})
    assert standalone_question("and if I'm late?", HOMEWORK, search=search) == rewritten


def test_search_reads_doc_ids_of_hits_and_collapses_chunks() -> None:
    rewritten = standalone_question("and if I'm late?", HOMEWORK)
    # two chunks of the same page first: the runner-up page is the third hit
    rankings = {
        rewritten: [Hit("deadlines", 0.9), Hit("deadlines", 0.8), Hit("late-submissions", 0.5)],
        "and if I'm late?": [Hit("late-submissions", 0.1)],
    }
    assert (
        standalone_question("and if I'm late?", HOMEWORK, search=lambda t: rankings[t]) == "and if I'm late?"
    )


def test_a_followup_that_would_not_be_answered_alone_keeps_the_rewrite() -> None:
    rewritten = standalone_question("and if I'm late?", HOMEWORK)
    rankings = {rewritten: [Hit("deadlines", 0.9), Hit("late-submissions", 0.5)],
                "and if I'm late?": [Hit("late-submissions", 0.01)]}  # below the answer threshold: an abstention
    assert standalone_question("and if I'm late?", HOMEWORK, search=lambda t: rankings[t], min_score=0.08) == rewritten
    assert standalone_question("and if I'm late?", HOMEWORK, search=lambda t: rankings[t],
                               min_score=0.005) == "and if I'm late?"


def test_search_is_not_called_for_standalone_questions() -> None:
    search = FakeSearch({})
    question = "Where can I check my gift card balance?"
    assert standalone_question(question, RETURN_TURN, search=search) == question
    assert search.asked == []


def test_the_committed_followup_set_names_existing_pages() -> None:
    """bench/data/followups.jsonl: enough exchanges, every kb, and relevant ids that exist."""
    root = Path(__file__).resolve().parents[3]
    rows = [
        json.loads(line)
        for line in (root / "bench" / "data" / "followups.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) >= 40
    assert {r["kb"] for r in rows} == {"store", "zoomcamp-mlops", "zoomcamp-data-engineering"}
    assert sum(r["topic_change"] for r in rows) >= 8
    for r in rows:
        assert [t["role"] for t in r["history"]] == ["user", "assistant"] and r["query"] and r["relevant"]
        assert r["topic_change"] == (r["standalone"] == r["query"])
    faqs = root.parent / "shared" / "data" / "zoomcamp_faq"
    kb_files = {
        "store": root / "bench" / "data" / "store_kb.jsonl",
        "zoomcamp-mlops": faqs / "mlops_faq.jsonl",
        "zoomcamp-data-engineering": faqs / "data-engineering_faq.jsonl",
    }
    for kb, path in kb_files.items():
        if not path.exists():  # the zoomcamp FAQs live outside the repository
            assert kb != "store"
            continue
        ids = {
            json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        }
        missing = {i for r in rows if r["kb"] == kb for i in r["relevant"]} - ids
        assert not missing, f"{kb}: {sorted(missing)}"


def test_elliptical_is_rule_one_against_the_earlier_questions():
    history = [("user", "How much does it cost to fix a broken zip?"), ("assistant", "From €35 [1].")]
    assert is_elliptical("how long will it take?", history)
    assert not is_elliptical("Can I pay for the repair with a gift card from my last birthday?", history)
    assert not is_elliptical("how long will it take?", [])  # nothing to lean on
