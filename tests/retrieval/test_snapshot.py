"""Snapshot rows: what a chunk's body row embeds and BM25 indexes.

    pytest tests/retrieval/test_snapshot.py
"""

from __future__ import annotations

from retrieval.snapshot import embed_body


def test_body_row_leads_with_title_and_section() -> None:
    assert embed_body("Returns", "Refunds", "Money back in 5 days.") == "Returns — Refunds\nMoney back in 5 days."
    assert embed_body("Returns", None, "Money back.") == "Returns\nMoney back."
    assert embed_body("", None, "Money back.") == "Money back."


def test_body_row_drops_markdown_marks_but_keeps_every_word() -> None:
    text = (
        "Pay with **iDEAL** or `PayPal`; see __terms__.\n"
        "| Day | Hours |\n"
        "|---|:---:|\n"
        "| Monday | 08:00–20:00 |\n"
        "- Express: next day\n"
        "  * nested: still listed\n"
        "+ plus bullet"
    )
    row = embed_body("Payment", None, text)
    assert row == (
        "Payment\n"
        "Pay with iDEAL or PayPal; see terms.\n"
        "| Day | Hours |\n"
        "\n"
        "| Monday | 08:00–20:00 |\n"
        "Express: next day\n"
        "nested: still listed\n"
        "plus bullet"
    )


def test_body_row_keeps_marks_that_are_part_of_words_or_sums() -> None:
    text = "Set my_var__x to -5; a - b and 3 * 4 stay.\n-10 °C is fine."
    assert embed_body("", None, text) == text
