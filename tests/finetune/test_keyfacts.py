"""Key-fact extraction and retention: numbers, prices, durations, times, dates and named policies."""

from __future__ import annotations

from pathlib import Path

from finetune.keyfacts import KeyFacts, kb_policy_names

ROOT = Path(__file__).resolve().parents[2]


def test_extracts_prices_durations_times_and_policies() -> None:
    facts = KeyFacts(["Price match", "Return policy", "When will I get my refund?"])
    found = facts.extract("Standard delivery takes 2–5 business days and costs €5.95 (free from €75); "
                          "orders before 14:00 CET ship today. Our Price match covers 14 days, 10% off "
                          "until 31 January.")
    assert found == ["2-5 business day", "€5.95", "€75", "14:00", "14 day", "10%", "31 january", "price match"]


def test_retention_accepts_equivalent_wording_and_rejects_wrong_numbers() -> None:
    facts = KeyFacts()
    reference = "You have 30 days to return it; refunds take 5-10 business days."
    assert facts.score(reference, "Returns within thirty days; refund in 5 to 10 business days.").all_kept
    wrong = facts.score(reference, "You have 14 days; refunds take 5-10 business days.")
    assert (wrong.facts, wrong.kept, wrong.all_kept) == (2, 1, False)
    assert facts.score(reference, "We offer a 130 day window").kept == 0  # 30 inside 130 is not a match


def test_policy_names_come_from_kb_titles() -> None:
    names = kb_policy_names(ROOT / "assistant" / "samples" / "kb")
    assert "Return policy" in names and "Price match" in names
    assert "return policy" in KeyFacts(names).extract("See our Return policy for details.")
