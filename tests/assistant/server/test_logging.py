"""The server's log pipeline, in-process on a private logger: JSON lines, request ids, PII redacted
from messages and tracebacks, and sane request-id validation. (The real process is in tests/deploy.)"""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from asgi_correlation_id import correlation_id

from assistant.engine.settings import Settings
from assistant.server.logging import RedactPII, log_config, valid_request_id

EMAIL, CARD = "ann.lee@example.org", "4111 1111 1111 1111"


@pytest.fixture()
def capture():
    """Apply the server's dictConfig to one private logger and collect what its handler writes."""
    config = log_config(Settings(server={"log_level": "debug"}))
    stream = io.StringIO()
    handler = config["handlers"]["stderr"]
    config["handlers"]["stderr"] = {"()": lambda: logging.StreamHandler(stream), "formatter": handler["formatter"],
                                    "filters": handler["filters"]}
    config["loggers"] = {"deploy-test": {"handlers": ["stderr"], "level": "DEBUG", "propagate": False}}
    config.pop("root")  # leave the test process's own logging alone
    logging.config.dictConfig(config)
    logger = logging.getLogger("deploy-test")
    yield logger, stream
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_are_json_with_the_request_id_and_extra_fields(capture) -> None:
    logger, stream = capture
    token = correlation_id.set("req-abcdef123")
    try:
        logger.info("turn done", extra={"route": "/v1/chat", "status": 200})
    finally:
        correlation_id.reset(token)
    logger.warning("outside a request")
    first, second = lines(stream)
    assert first["message"] == "turn done" and first["level"] == "INFO" and first["logger"] == "deploy-test"
    assert first["request_id"] == "req-abcdef123" and first["route"] == "/v1/chat" and first["status"] == 200
    assert second["request_id"] == "-" and second["time"]


def test_pii_is_redacted_from_messages_arguments_and_tracebacks(capture) -> None:
    logger, stream = capture
    logger.info("customer %s paid with %s", EMAIL, CARD)
    try:
        raise ValueError(f"bad address {EMAIL}")
    except ValueError:
        logger.exception("lookup failed")
    text = stream.getvalue()
    assert EMAIL not in text and CARD not in text
    paid, failed = lines(stream)
    assert paid["message"] == "customer [EMAIL] paid with [CARD]"
    assert "ValueError: bad address [EMAIL]" in failed["exc_info"]


def test_redaction_filter_keeps_plain_operational_text() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "loaded %d documents in %.1f s", (42, 3.5), None)
    assert RedactPII().filter(record) and record.getMessage() == "loaded 42 documents in 3.5 s"


@pytest.mark.parametrize(("value", "ok"), [
    ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
    ("4d1c9e0b2a7f4e8c9b3d6a5f1e2c7b8a", True),
    ("req-0123456789", True),
    ("short", False),
    ("x" * 65, False),
    ("id with spaces", False),
    (f"id-{EMAIL}", False),
    ("id\nnewline-000", False),
])
def test_request_ids_from_callers_must_be_plain_tokens(value: str, ok: bool) -> None:
    assert valid_request_id(value) is ok
