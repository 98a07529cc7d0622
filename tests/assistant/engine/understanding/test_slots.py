"""Slot extraction: order numbers in the forms customers type them, normalised to #NW-12345."""

from __future__ import annotations

import pytest

from assistant.engine.understanding.slots import extract_slots


@pytest.mark.parametrize("text", [
    "where is #NW-48213?", "order nw48213 is late", "NW 48213", "my order number 48213 hasn't come",
    "order #48213 please",
])
def test_order_id_forms(text):
    assert extract_slots(text)["order_id"] == "#NW-48213"


def test_no_order_id_in_plain_numbers_or_prices():
    assert "order_id" not in extract_slots("I paid 48213 cents for 2 items")
    assert "order_id" not in extract_slots("where is my parcel?")


def test_email_and_named_subset():
    found = extract_slots("mail me at jo.doe+shop@example.co.uk about NW-11111", ["email"])
    assert found == {"email": "jo.doe+shop@example.co.uk"}
