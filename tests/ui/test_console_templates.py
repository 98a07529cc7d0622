"""The console's Templates tab, driven through its handlers on a real Assistant (fake backend, real SQLite) behind
the real app: add a template, see it answer the site's next turn (and not another site's), edit, retire and revert
it from the version history, a bad edit refused with nothing stored, and every change in the audit log under
the operator's name. (Retraining intents with a progress bar: test_console_intents.py.)"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from tests.assistant.engine.test_template_versions import PagedRetriever
from tests.assistant.server.sites_support import HITS, app_client, auth, new_site
from ui.console.context import ConsoleContext
from ui.console.tabs.templates import TemplatesTab

QUESTION = "How long does a refund take?"


def _tab(client) -> TemplatesTab:
    ctx = ConsoleContext(lambda: client.bot, client.bot.settings)
    with gr.Blocks():
        return TemplatesTab(ctx)


def _chat(client, headers: dict | None = None) -> dict:
    r = client.post("/v1/chat", json={"message": QUESTION}, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


def test_templates_tab_adds_edits_retires_and_reverts(tmp_path: Path) -> None:
    retriever = PagedRetriever(list(HITS), pages={"default": ["refund-timing"], "acme": ["refund-timing"]})
    with app_client(tmp_path, retriever=retriever) as client:
        _, acme_key = new_site(client, "acme")
        tab = _tab(client)
        sites, table, ids, _ = tab.render("default")
        assert "acme" in sites["choices"] and table.empty and ids == []
        assert _chat(client)["route"] != "template"

        # the fake classifier reads refund_status at 0.5: the template sets its intent's threshold to 0.4
        status, history = tab.on_save("default", "refund.timing", "refund_status", 0.4,
                                      "{company} refunds within 5 business days.", "refund-timing", "",
                                      SimpleNamespace(username="maria"))
        assert "version 1 (added)" in status and list(history["action"]) == ["add"]
        reply = _chat(client)
        assert (reply["route"], reply["template_id"]) == ("template", "refund.timing")
        assert reply["answer"] == "Northwind Outfitters refunds within 5 business days."
        assert _chat(client, auth(acme_key))["template_id"] is None  # another site: never this template

        _, table, ids, intents = tab.render("default")
        assert ids == ["refund.timing"] and table.iloc[0]["status"] == "added"
        assert "refund_status" in intents["choices"]
        editor = tab.on_select("default", ids, SimpleNamespace(index=[0, 0]))
        assert editor[:6] == ["refund.timing", editor[1], 0.4, "{company} refunds within 5 business days.",
                              "refund-timing", ""]

        status, _ = tab.on_save("default", "refund.timing", "refund_status", None, "Refunds take {refund_days}.",
                                "refund-timing", "")
        assert "unknown slot {refund_days}" in status
        status, _ = tab.on_save("default", "refund.timing", "refund_status", None, "Refunds take 5 days.",
                                "shipping-times", "")
        assert "unknown source page(s) shipping-times" in status
        assert client.bot.templates.get("default", "refund.timing").version == 1  # nothing stored

        status, history = tab.on_save("default", "refund.timing", "refund_status", None,
                                      "Your refund arrives within 5 business days.", "refund-timing", "")
        assert "version 2 (added)" in status and list(history["action"]) == ["add", "edit"]
        assert _chat(client)["answer"] == "Your refund arrives within 5 business days."

        status, _ = tab.on_retire("default", "refund.timing")
        assert "version 3 (retired)" in status
        assert _chat(client)["template_id"] is None

        status, history = tab.on_revert("default", "refund.timing", 1)
        assert "Version 1 restored" in status and list(history["restores"])[-1] == 1
        assert _chat(client)["answer"] == "Northwind Outfitters refunds within 5 business days."
        assert "no version 7" in tab.on_revert("default", "refund.timing", 7)[0]
        assert "no version 0" in tab.on_revert("default", "refund.timing", 0)[0]  # not in a templates file

        entries = client.bot.audit.entries(site_id="default")
        changes = [(e.actor, e.action, e.detail["version"]) for e in reversed(entries) if e.target.startswith("template")]
        assert changes == [("maria", "template_add", 1), ("operator", "template_edit", 2),
                           ("operator", "template_retire", 3), ("operator", "template_revert", 4)]
        assert client.bot.audit.entries(site_id="acme", action="template_add") == []

