"""The console's Inbox and Audit log tabs, driven through their handlers on a real Assistant (fake backend, real
SQLite): the queue with waiting time, the transcript with sources and sentiment, claim, reply, note, close, hand
back; the audit log of all of it (and of site and key changes), and its CSV export."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from sqlalchemy import delete, update

from assistant.engine.audit import AuditEntry, AuditImmutable
from tests.assistant.server.sites_support import app_client, auth, new_site
from ui.console.context import ALL_SITES, ConsoleContext
from ui.console.tabs.audit import AuditTab
from ui.console.tabs.inbox import InboxTab, waited


def _tabs(client) -> tuple[InboxTab, AuditTab]:
    ctx = ConsoleContext(lambda: client.bot, client.bot.settings)
    with gr.Blocks():
        return InboxTab(ctx), AuditTab(ctx)


def _handed_off(client, key: str, text: str) -> str:
    cid = client.post("/v1/chat", json={"message": text}, headers=auth(key)).json()["conversation_id"]
    client.post("/v1/handoff", json={"conversation_id": cid, "message": "I want a person"}, headers=auth(key))
    return cid


def test_inbox_works_a_handed_off_conversation_and_the_audit_log_shows_it(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme")
        cid = _handed_off(client, key, "How long do refunds take?")
        inbox, audit = _tabs(client)

        _, table, rows, status = inbox.render_queue(ALL_SITES, "Waiting", "Maria")
        assert rows == [(cid, "acme")] and "1 waiting conversation" in status
        assert table.iloc[0]["state"] == "waiting" and table.iloc[0]["waiting"].endswith(" s")
        assert table.iloc[0]["customer's last message"] == "I want a person"

        current, history, summary, notes, _ = inbox.on_select(rows, SimpleNamespace(index=[0, 0]))
        assert current == (cid, "acme") and "waiting" in summary and "none yet" in notes
        texts = [m["content"] for m in history]
        assert any("*sentiment:" in t for t in texts)  # the customer's sentiment on each message
        sources = [m for m in history if m.get("metadata", {}).get("title", "").startswith("Sources")]
        assert sources and "Refund timing" in sources[0]["content"]  # the assistant's sources

        *_, status, _ = inbox.act("claim", current, "Maria")
        assert "Claimed by Maria" in status
        assert inbox.render_queue("acme", "Waiting", "Maria")[2] == []
        assert inbox.render_queue("acme", "Mine", "Maria")[2] == [(cid, "acme")]
        history, _, _, status, box = inbox.act("reply", current, "Maria", "Hi, Maria here: it left today.")
        assert "Reply sent" in status and box == ""
        assert history[-1]["content"] == "**Maria (agent):** Hi, Maria here: it left today."
        _, _, notes, status, _ = inbox.act("note", current, "Maria", "VIP customer")
        assert "VIP customer" in notes
        polled = client.get(f"/v1/conversations/{cid}/messages", headers=auth(key)).json()
        assert "VIP" not in str(polled) and polled["messages"][-1]["author"] == "Maria"
        # Bad input is said, not raised; nothing changes.
        assert "must not be empty" in inbox.act("reply", current, "Maria", "   ")[3]
        assert "Select a conversation" in inbox.act("claim", None, "Maria")[3]
        assert "claimed by Maria" in inbox.act("claim", current, "Sam")[3]

        _, summary, _, status, _ = inbox.act("close", current, "Maria")
        assert "Closed" in status and "close by **Maria**" in summary
        assert "not with a person" in inbox.act("hand_back", current, "Maria")[3]
        assert inbox.render_queue(ALL_SITES, "Closed", "")[2] == [(cid, "acme")]

        other = _handed_off(client, key, "Where is my parcel?")
        assert "Handed back" in inbox.act("hand_back", (other, "acme"), "Sam")[3]
        assert client.get(f"/v1/conversations/{other}", headers=auth(key)).json()["status"] == "active"

        # The audit log: every action above, and the site and key changes made through the admin API.
        _, table = audit.render("acme", "any action")
        actions = list(table["action"])
        assert actions == ["hand_back", "close", "note", "reply", "claim", "key_issue", "site_create"]
        assert list(table["who"])[:5] == ["Sam", "Maria", "Maria", "Maria", "Maria"]
        assert all(t.startswith(("conversation:", "key:", "site:")) for t in table["target"])
        assert "VIP" not in table.to_csv()  # notes and replies are referred to, never copied
        assert list(audit.render(ALL_SITES, "claim")[1]["action"]) == ["claim"]

        path, status = audit.on_export("acme")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [r["action"] for r in rows] == list(reversed(actions))  # oldest first
        assert set(rows[0]) == {"id", "at", "site_id", "actor", "action", "target", "detail"}
        assert "7 audit entries exported" in status
        assert client.bot.audit.entries(action="export")[0].actor == "operator"  # the export is audited too


def test_audit_entries_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        client.bot.audit.record("acme", "maria", "claim", "conversation:x")
        store = client.store
        with pytest.raises(AuditImmutable), store.session() as s:
            s.get(AuditEntry, 1).actor = "someone else"
        with pytest.raises(AuditImmutable), store.session() as s:
            s.delete(s.get(AuditEntry, 1))
        with pytest.raises(AuditImmutable), store.session() as s:
            s.execute(update(AuditEntry).values(actor="x"))
        with pytest.raises(AuditImmutable), store.session() as s:
            s.execute(delete(AuditEntry))
        assert [(e.actor, e.action) for e in client.bot.audit.entries()] == [("maria", "claim")]
        with pytest.raises(ValueError):
            client.bot.audit.record("acme", "maria", "rewrite_history", "conversation:x")


def test_waited_reads_at_a_glance() -> None:
    assert [waited(s) for s in (5, 125, 7500, 2 * 86400 + 4 * 3600)] == ["5 s", "2 min", "2 h 05 min", "2 d 4 h"]
