"""The console's Intents tab, driven through its handlers on a real Assistant (real SQLite, the real MiniLM intent
model trained on a small CSV, fake chat backend) behind the real app: a queued message assigned on its own site,
examples added, removed, an intent retired and reverted from the version history, the picked site retrained with
a progress bar, its customers' next messages classified with the new intent over the API and another site's
not; bad input refused with nothing stored; every change in the audit log under the operator's name."""

from __future__ import annotations

import html
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.facade import Assistant
from assistant.engine.store import Message, Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.server.app import create_app
from tests.assistant.engine.test_intent_versions import HELMET, PROBE, understanding, write_intents
from tests.assistant.server.sites_support import auth, make_settings
from tests.support import FakeRetriever
from ui.console.context import ConsoleContext
from ui.console.tabs.intent_editor import IntentEditor
from ui.console.tabs.intents import IntentsTab

__all__ = ["understanding"]  # the module-scoped real Understanding fixture
MARIA = SimpleNamespace(username="maria")


@contextmanager
def console(tmp_path: Path, understanding) -> Iterator[tuple[TestClient, IntentsTab, dict[str, str]]]:
    settings = make_settings(tmp_path)
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=FakeRetriever([]), understanding=understanding,
                    policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=Store(settings.resolved_database_url))
    intents = write_intents(tmp_path / "bike-intents.csv")
    keys = {}
    with TestClient(create_app(settings, assistant=bot)) as client:
        for site in ("bikes", "scooters"):
            bot.sites.create(site, site.title(), intents_path=str(intents))
            keys[site] = bot.sites.issue_key(site, "test")[1]
        with gr.Blocks():
            tab = IntentsTab(ConsoleContext(lambda: bot, settings))
        client.bot = bot
        yield client, tab, keys


def intent_of(client: TestClient, key: str, text: str = PROBE) -> str | None:
    r = client.post("/v1/chat", json={"message": text}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()["intent"]


def test_the_intents_tab_edits_versions_and_retrains_one_site(tmp_path: Path, understanding) -> None:
    with console(tmp_path, understanding) as (client, tab, keys):
        bot, editor = client.bot, tab.editor
        sites, table, _, history, _ = editor.render("bikes")
        assert {"bikes", "scooters", "default"} <= set(sites["choices"]) and sites["value"] == "bikes"
        assert list(table["intent"]) == ["opening_hours", "rental_price"] and history.empty
        assert intent_of(client, keys["bikes"]) != "lost_property"

        # a queued customer message of bikes, assigned: an example on bikes, out of the queue
        intent_of(client, keys["bikes"], HELMET[0])
        with bot.store.session() as s:
            message_id = s.scalars(select(Message.id).where(Message.role == "user", Message.content == HELMET[0])).one()
        ids, site, text, choices = tab.on_select([message_id], _queue_row("bikes", HELMET[0]),
                                                 SimpleNamespace(index=[0, 2]))
        assert (ids, site, text) == (message_id, "bikes", HELMET[0]) and "opening_hours" in choices["choices"]
        status = tab.on_assign(message_id, site, "lost_property", MARIA)
        assert "now an example on site bikes (version 1)" in status, status
        assert message_id in bot.conversations.assigned_message_ids()
        for example in HELMET[1:]:
            status, history, examples = editor.on_add("bikes", "lost_property", example, MARIA)
            assert "Added" in status
        assert len(examples) == 5 and list(history["action"]) == ["add"] * 5

        assert "already an example" in html.unescape(editor.on_add("bikes", "lost_property", HELMET[1])[0])
        assert "the example text is empty" in html.unescape(editor.on_add("bikes", "lost_property", "  ")[0])
        assert "has no intent 'gift_wrapping'" in html.unescape(editor.on_retire("bikes", "gift_wrapping")[0])
        assert "no site 'nowhere'" in html.unescape(editor.on_add("nowhere", "lost_property", "my helmet")[0])
        assert bot.intents.overview("bikes").version == 5  # nothing stored

        assert "not in the model yet" in editor.render("bikes")[4]
        done = editor.on_retrain("bikes", MARIA, progress=lambda *a, **k: None)
        assert "Retrained bikes on 17 examples (5 added by operators, 3 intents)" in done, done
        assert intent_of(client, keys["bikes"]) == "lost_property"
        assert intent_of(client, keys["scooters"]) != "lost_property"  # the other site's model is its own
        assert "intent: lost_property" in editor.on_probe("bikes", PROBE)
        assert "lost_property" not in editor.on_probe("scooters", PROBE)

        status, history, _ = editor.on_retire("bikes", "lost_property")
        assert "version 7" in status and list(history["action"])[-2:] == ["retrain", "retire"]
        editor.on_retrain("bikes", None, progress=lambda *a, **k: None)
        assert intent_of(client, keys["bikes"]) != "lost_property"
        status, history, _ = editor.on_revert("bikes", "lost_property", 6, MARIA)
        assert "Version 6 restored" in status and list(history["restores"])[-1] == 6
        editor.on_retrain("bikes", MARIA, progress=lambda *a, **k: None)
        assert intent_of(client, keys["bikes"]) == "lost_property"
        assert "no intents version 42" in html.unescape(editor.on_revert("bikes", "", 42)[0])

        audit = [(e.actor, e.action) for e in reversed(bot.audit.entries(site_id="bikes"))
                 if e.action.startswith("intent_")]
        assert audit == [("maria", "intent_add")] * 5 + [
            ("maria", "intent_retrain"), ("operator", "intent_retire"), ("operator", "intent_retrain"),
            ("maria", "intent_revert"), ("maria", "intent_retrain")]
        assert bot.audit.entries(site_id="scooters", action="intent_add") == []


def _queue_row(site: str, text: str):
    import pandas as pd

    return pd.DataFrame([{"received": "", "site": site, "message": text, "model's guess": None,
                          "confidence": 0.2, "why queued": "low confidence"}])


def test_retraining_intents_shows_a_progress_bar() -> None:
    progress = inspect.signature(IntentEditor.on_retrain).parameters["progress"].default
    assert isinstance(progress, gr.Progress) and progress.track_tqdm  # the trainer's tqdm bars drive it
