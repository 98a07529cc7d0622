"""Conversation exports (#28): JSONL and CSV from a real SQLite store, filtered by site, period, route and
sentiment, redacted on the way out (agents' and the assistant's words too), spreadsheet-safe, audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.engine.audit import AuditLog
from assistant.engine.conversation_export import ConversationExport, ExportError, ExportFilter
from assistant.engine.security import SecurityConfig
from assistant.engine.store import Message, Store, new_id
from tests.console_seed import Turn, seed_conversation

NOV = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
DEC = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'export.db'}")
    seed_conversation(store, NOV, [Turn("Where is my parcel?", answer="It left on Monday [1].")],
                      site_id="acme", conversation_id="c-nov")
    seed_conversation(store, DEC, [Turn("This is useless, my parcel is lost", sentiment="negative",
                                        answer="I couldn't find a reliable answer.", route="abstain",
                                        abstained=True)],
                      site_id="acme", conversation_id="c-dec-unhappy")
    seed_conversation(store, DEC, [Turn("=HYPERLINK(\"http://evil.example\")", route="template",
                                        answer="-5% today only")],
                      site_id="acme", conversation_id="c-dec-formula")
    seed_conversation(store, DEC, [Turn("Bike rental prices?", sentiment="negative", route="abstain")],
                      site_id="bikes", conversation_id="c-bikes")
    with store.session() as s:  # an agent quotes an e-mail address; the assistant's silence while they answer
        s.add(Message(id=new_id(), conversation_id="c-dec-unhappy", seq=3, role="agent", author="Sam",
                      content="I wrote to jane.doe@example.com about it.", created_at=DEC + timedelta(minutes=2)))
        s.add(Message(id=new_id(), conversation_id="c-dec-unhappy", seq=4, role="assistant", content="",
                      route="paused", created_at=DEC + timedelta(minutes=3)))
    return store


def _export(store: Store, fmt: str, **where) -> tuple[int, str]:
    out = io.StringIO()
    n = ConversationExport(store, SecurityConfig()).write(out, fmt, ExportFilter(**where), actor="ops")
    return n, out.getvalue()


def test_jsonl_is_one_conversation_a_line_with_its_messages(store: Store) -> None:
    n, text = _export(store, "jsonl", site_id="acme")
    records = [json.loads(line) for line in text.splitlines()]
    assert n == 3 and [r["id"] for r in records] == ["c-nov", "c-dec-formula", "c-dec-unhappy"]  # oldest first
    assert all(r["site_id"] == "acme" for r in records)
    unhappy = next(r for r in records if r["id"] == "c-dec-unhappy")
    assert [m["role"] for m in unhappy["messages"]] == ["user", "assistant", "agent"]  # the silent reply is left out
    assert unhappy["messages"][1]["route"] == "abstain" and unhappy["messages"][2]["author"] == "Sam"


def test_filters_site_period_route_and_sentiment(store: Store) -> None:
    assert _export(store, "jsonl", site_id="bikes")[0] == 1
    assert _export(store, "jsonl")[0] == 4  # every site
    ids = lambda text: sorted(json.loads(line)["id"] for line in text.splitlines())  # noqa: E731
    assert ids(_export(store, "jsonl", site_id="acme", since=datetime(2026, 12, 1, tzinfo=UTC))[1]) == \
        ["c-dec-formula", "c-dec-unhappy"]
    assert ids(_export(store, "jsonl", site_id="acme", until=datetime(2026, 12, 1, tzinfo=UTC))[1]) == ["c-nov"]
    assert ids(_export(store, "jsonl", site_id="acme", route="abstain")[1]) == ["c-dec-unhappy"]
    assert ids(_export(store, "jsonl", sentiment="negative")[1]) == ["c-bikes", "c-dec-unhappy"]
    assert ids(_export(store, "jsonl", site_id="acme", route="abstain", sentiment="positive")[1]) == []


def test_everything_exported_is_redacted(store: Store) -> None:
    for fmt in ("jsonl", "csv"):
        _, text = _export(store, fmt, site_id="acme")
        assert "jane.doe@example.com" not in text and "[EMAIL]" in text


def test_csv_is_one_message_a_row_and_safe_to_open_in_a_spreadsheet(store: Store) -> None:
    n, text = _export(store, "csv", site_id="acme", since=datetime(2026, 12, 1, tzinfo=UTC))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert n == 2 and len(rows) == 5  # 2 + 3 messages; the silent reply is left out
    formula = [r for r in rows if r["conversation_id"] == "c-dec-formula"]
    assert formula[0]["content"] == "'=HYPERLINK(\"http://evil.example\")" and formula[1]["content"] == "'-5% today only"
    assert {r["role"] for r in rows} == {"user", "assistant", "agent"} and rows[0]["seq"] == "1"


def test_each_export_is_in_the_sites_audit_log(store: Store) -> None:
    _export(store, "csv", site_id="acme", route="abstain")
    _export(store, "jsonl", sentiment="negative")  # two sites' conversations: an entry for each
    entries = AuditLog(store).entries(action="export")
    assert sorted(e.site_id for e in entries) == ["acme", "acme", "bikes"]
    first = next(e for e in entries if e.detail.get("route") == "abstain")
    assert first.actor == "ops" and first.detail["format"] == "csv" and first.detail["conversations"] == 1


@pytest.mark.parametrize(("fmt", "where", "message"), [
    ("xml", {}, "unknown format"),
    ("csv", {"route": "shouting"}, "unknown route"),
    ("csv", {"sentiment": "furious"}, "unknown sentiment"),
    ("csv", {"since": DEC, "until": NOV}, "period is empty"),
])
def test_bad_requests_are_refused_before_anything_is_written(store: Store, fmt: str, where: dict,
                                                              message: str) -> None:
    out = io.StringIO()
    with pytest.raises(ExportError, match=message):
        ConversationExport(store, SecurityConfig()).write(out, fmt, ExportFilter(**where), actor="ops")
    assert out.getvalue() == "" and AuditLog(store).entries(action="export") == []
