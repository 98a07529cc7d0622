"""PII redaction on tricky strings: what must go, what must stay (order numbers, prices, dates, durations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune.errors import FinetuneError
from finetune.redaction import RedactionConfig, Redactor

redactor = Redactor(RedactionConfig(allow=["help@northwind.example", "+31 20 555 0142"]))


@pytest.mark.parametrize(("text", "expected", "kind"), [
    ("mail john.doe+shop@mail.example.co.uk.", "mail [EMAIL].", "email"),
    ("<ANNA.K@EXAMPLE.COM>", "<[EMAIL]>", "email"),
    ("card 4111 1111 1111 1111 expires", "card [CARD] expires", "card"),
    ("4000-0566-5566-5556", "[CARD]", "card"),
    ("my IBAN NL91ABNA0417164300, thanks", "my IBAN [IBAN], thanks", "iban"),
    ("IBAN NL91 ABNA 0417 1643 00 ok", "IBAN [IBAN] ok", "iban"),
    ("call +44 7700 900123 now", "call [PHONE] now", "phone"),
    ("call (555) 123-4567", "call [PHONE]", "phone"),
    ("text 0612345678", "text [PHONE]", "phone"),
    ("or 06 12 34 56 78.", "or [PHONE].", "phone"),
    ("Lindenstraat 42, 3512 BK Utrecht please", "[ADDRESS] please", "address"),
    ("to 221B Baker Street, London", "to [ADDRESS]", "address"),
    ("1600 Amphitheatre Parkway, Mountain View, CA 94043", "[ADDRESS]", "address"),
])
def test_pii_is_replaced_by_its_kind(text: str, expected: str, kind: str) -> None:
    redacted, counts = redactor.redact(text)
    assert redacted == expected
    assert counts[kind] >= 1


@pytest.mark.parametrize("text", [
    "Order NW-27761 shipped on 2024-05-17 at 10:30.",
    "It costs €1,299.00 or $12.95; free from €75.",
    "Returns within 30 days, refunds in 5-10 business days, 1–2 days express.",
    "VAT number NL123456789B01 on the invoice.",
    "Tracking 3SABC123456789 via PostNL.",
    "1234 5678 9012 3456 fails the Luhn check, so it is not a card.",
    "Sizes 30 32 34 36 38 are in stock.",
    "Write to help@northwind.example or call +31 20 555 0142.",
    "Version 1.2.3 of the app, 24/7 chat, 15 November to 24 December.",
])
def test_business_facts_and_allowed_contacts_survive(text: str) -> None:
    redacted, counts = redactor.redact(text)
    assert redacted == text and not counts


def test_extra_patterns_and_disabled_kinds(tmp_path: Path) -> None:
    config = tmp_path / "redaction.yaml"
    config.write_text("kinds: [email]\nextra:\n  order: 'NW-\\d{5}'\nallow: []\n")
    custom = Redactor(RedactionConfig.from_yaml(config))
    text, counts = custom.redact("NW-27761 from a@b.io, phone 0612345678")
    assert text == "[ORDER] from [EMAIL], phone 0612345678"
    assert counts == {"order": 1, "email": 1}


def test_bad_redaction_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FinetuneError, match="unknown redaction kind"):
        Redactor(RedactionConfig(kinds=["passport"]))
    with pytest.raises(FinetuneError, match="not a valid regex"):
        Redactor(RedactionConfig(extra={"broken": "(unclosed"}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("kinds: [email]\npatterns: {}\n")
    with pytest.raises(FinetuneError, match="unknown keys"):
        RedactionConfig.from_yaml(bad)
