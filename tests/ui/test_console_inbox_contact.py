"""The console's Inbox shows the e-mail address a customer left after an out-of-hours handoff (real app, real
SQLite, fake backend): the agent who opens the conversation sees where to write back."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from tests.assistant.server.sites_support import app_client, auth, new_site
from ui.console.context import ALL_SITES, ConsoleContext
from ui.console.tabs.inbox import InboxTab


def test_the_inbox_shows_the_address_left_out_of_hours(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme", opening_hours={"timezone": "Asia/Tokyo", "weekly": {"mon": ["03:00-03:01"]}})
        handed = client.post("/v1/handoff", json={"message": "Anyone there?"}, headers=auth(key)).json()
        assert handed["after_hours"] is True and "(Asia/Tokyo)" in handed["message"]
        cid = handed["conversation_id"]
        with gr.Blocks():
            inbox = InboxTab(ConsoleContext(lambda: client.bot, client.bot.settings))
        rows = inbox.render_queue(ALL_SITES, "Waiting", "Maria")[2]
        assert "e-mail" not in inbox.on_select(rows, SimpleNamespace(index=[0, 0]))[2]
        r = client.post(f"/v1/conversations/{cid}/contact", json={"email": "jo@example.com"}, headers=auth(key))
        assert r.status_code == 200, r.text
        assert "e-mail: **jo@example.com**" in inbox.on_select(rows, SimpleNamespace(index=[0, 0]))[2]
