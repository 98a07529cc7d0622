"""PII redaction before storage (configurable), on tricky strings; raw text never reaches the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant.engine import privacy
from assistant.engine.privacy import Redactor, iban_ok, luhn_ok, redact
from assistant.engine.security import SecurityConfig
from tests.assistant.server.sites_support import app_client

REDACTED = [
    ("write to jo.smith+shop@mail.example.co.uk please", "write to [EMAIL] please"),
    ("card 4111 1111 1111 1111, exp 12/27", "card [CARD], exp 12/27"),
    ("card 5500-0000-0000-0004", "card [CARD]"),
    ("IBAN GB82 WEST 1234 5698 7654 32 thanks", "IBAN [IBAN] thanks"),
    ("NL91ABNA0417164300", "[IBAN]"),
    ("call +44 20 7946 0958 or 0044 20 7946 0958", "call [PHONE] or [PHONE]"),
    ("my number is (555) 123-4567.", "my number is [PHONE]."),
    ("手机号 13812345678 谢谢", "手机号 [PHONE] 谢谢"),
    ("from 192.168.10.254 today", "from [IP] today"),
]
KEPT = [
    "order 12345678 arrived on 2024-03-15",
    "card 4111 1111 1111 1112 is not a valid number",  # fails Luhn
    "GB00WEST12345698765432",  # fails mod-97
    "it costs 1,299.00 and weighs 2.5 kg",
    "version 1.2.3.4.5 of the app",
    "order #A-1234-5678",
    "see section 3.2 on page 12",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_pii_is_redacted(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_non_pii_is_kept(text: str) -> None:
    assert Redactor().redact(text) == text


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE00 3704 0044 0532 0130 00")


def test_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "jo@example.com, order AB-123456"
    assert redact(text, SecurityConfig()) == "[EMAIL], order AB-123456"
    with monkeypatch.context() as m:
        m.setattr(privacy, "REDACT_PII", False)
        assert redact(text, SecurityConfig()) == text
    with monkeypatch.context() as m:
        m.setattr(privacy, "REDACT_KINDS", ("phone",))
        assert redact(text, SecurityConfig()) == text
    custom = SecurityConfig(redact_patterns={"order": r"\bAB-\d{6}\b"})
    assert redact(text, custom) == "[EMAIL], order [ORDER]"
    assert Redactor().counts("a@b.io and c@d.io, 10.0.0.1") == {"EMAIL": 2, "IP": 1}
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Redactor(patterns={"bad": "("})
    with pytest.raises(ValueError, match="unknown PII detector"):
        Redactor(kinds=["ssn"])


def test_stored_turns_are_redacted_and_logs_hold_no_raw_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "zebra-ocelot-77@example.com"
    caplog.set_level(logging.DEBUG)
    with app_client(tmp_path) as client:
        client.bot.settings.engine.answers = "unchecked"  # show the model's text as it is: it repeats the PII
        client.bot.backend.enqueue(f"I have noted {secret} and card 4111 1111 1111 1111. [1]")
        r = client.post("/v1/chat", json={"message": f"my email is {secret}, phone +1 415 555 0100"})
        assert r.status_code == 200
        assert secret in r.json()["answer"]  # the customer sees the reply as generated...
        conv = client.get(f"/v1/conversations/{r.json()['conversation_id']}").json()
        user, bot = conv["messages"]
        assert user["content"] == "my email is [EMAIL], phone [PHONE]"  # ...but only redacted text is stored
        assert bot["content"] == "I have noted [EMAIL] and card [CARD]. [1]"
        client.store.close()
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("assistant.db*"))
        assert secret.encode() not in raw and b"4111 1111" not in raw
    assert secret not in caplog.text and "zebra-ocelot" not in caplog.text


def test_redaction_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "REDACT_PII", False)
    with app_client(tmp_path) as client:
        r = client.post("/v1/chat", json={"message": "my email is jo@example.com"})
        conv = client.get(f"/v1/conversations/{r.json()['conversation_id']}").json()
        assert conv["messages"][0]["content"] == "my email is jo@example.com"
