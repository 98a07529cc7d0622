"""Template rephrasing: the check that a rewording kept every fact and added none."""

from __future__ import annotations

import pytest

from assistant.engine.understanding.rephrase import check, facts_of, messages

TEMPLATE = ("Our team is available Monday–Friday 08:00–20:00 CET. Call +31 20 555 0142 or e-mail "
            "help@northwind.example; we answer within 1 business day. Free delivery from €75.")
VALUES = ["Monday–Friday 08:00–20:00 CET", "+31 20 555 0142", "help@northwind.example", "1 business day", "€75"]


def test_facts_are_slot_values_numbers_addresses_and_links() -> None:
    facts = facts_of(TEMPLATE + " Track it at northwind.example/track.", VALUES)
    assert {"+31 20 555 0142", "help@northwind.example", "1 business day", "€75", "08:00",
            "northwind.example/track", "monday-friday 08:00-20:00 cet"} <= facts
    assert "northwind.example" not in facts  # the address is one fact, not also a link


def test_a_faithful_rewording_passes_with_other_dashes_spacing_and_case() -> None:
    reworded = ("Happy to help! We're here monday-friday 08:00-20:00 CET. Ring +31 20 555 0142 or write to "
                "help@northwind.example, and you'll hear back within 1 business day. Delivery is free from €75.")
    assert check(TEMPLATE, reworded, VALUES).ok
    assert check(TEMPLATE, TEMPLATE, VALUES).ok


@pytest.mark.parametrize("reworded, reason", [
    ("", "empty"),
    (TEMPLATE.replace("1 business day", "2 business days"), "dropped or changed '1"),
    (TEMPLATE.replace("+31 20 555 0142", "+31 20 555 0143"), "dropped or changed '+31 20 555 0142'"),
    (TEMPLATE.replace("€75", "€70"), "dropped or changed '€75'"),
    (TEMPLATE + " We also refund within 14 days.", "added '14'"),
    (TEMPLATE + " See northwind.example/faq.", "added 'northwind.example/faq'"),
    ("Customer's message: when are you open?\n" + TEMPLATE, "echoed the prompt"),
    (TEMPLATE * 4, "too long"),
    # seen from the default model: a kept time copied onto a day the shop is closed
    (TEMPLATE.replace("08:00–20:00 CET.", "08:00–20:00 CET and Sunday 08:00–20:00 CET."), "repeated"),
    (TEMPLATE.replace("we answer within", "we do not answer within"), "added or dropped a negation"),
    ("Here's a rewritten version of your request: " + TEMPLATE, "talked about the rewording"),
])
def test_a_rewording_that_drops_changes_or_adds_a_fact_is_refused(reworded: str, reason: str) -> None:
    verdict = check(TEMPLATE, reworded, VALUES)
    assert not verdict.ok and verdict.reason.startswith(reason), verdict


def test_a_reply_without_facts_still_needs_its_words_kept() -> None:
    # what the default 135M model wrote for some templates: nothing to drop, nothing of the reply kept either
    greeting = "Hi, welcome! I can help with orders, delivery, returns, payments and warranty questions."
    assert check(greeting, "Hello and welcome! I can help with orders, delivery, returns, payments or warranty "
                           "questions.").ok
    verdict = check(greeting, "You're ready to proceed. What would you like to do next?")
    assert not verdict.ok and verdict.reason == "kept too little of the reply"


def test_negations_count_in_any_spelling() -> None:
    closed = "We don't ship on Sundays."
    assert check(closed, "We do not ship on Sundays, sorry.").ok
    assert not check(closed, "We ship on Sundays.").ok


def test_a_number_must_stand_alone_not_inside_another() -> None:
    # "1" of "1 business day" is not kept by the "1" inside "14:00"
    assert not check("Replies within 1 day.", "Replies by 14:00 each day.").ok
    assert check("Replies within 1 day.", "We reply within 1 day.").ok


def test_the_prompt_quotes_the_message_and_the_reply_and_forbids_new_facts() -> None:
    system, user = messages("when are you open?", TEMPLATE)
    assert system["role"] == "system" and "Do not add any fact" in system["content"]
    assert user["role"] == "user" and "when are you open?" in user["content"] and TEMPLATE in user["content"]
