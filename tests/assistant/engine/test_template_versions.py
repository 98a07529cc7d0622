"""Templates edited in the console or over the API (template_versions.py), on a real SQLite store through the
facade: an edit answers the site's next turn and no other site's, retire removes it, revert restores an earlier
text, every change is an immutable version with an audit entry, and a bad change stores nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.errors import SiteNotFound, TemplateError
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.template_versions import TemplateNotFound, TemplateVersion
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.engine.understanding.understanding import SAMPLE_TEMPLATES
from tests.assistant.engine.test_site_profile import HITS, SiteAwareClassifier, ask, files
from tests.support import FakeRetriever

PAGES = {"default": ["bike-hours", "contact-hours"], "bikes": ["bike-hours", "contact-hours"]}
FILE_TEXT = "Pedal Rentals is open every day 09:00-18:00."


@dataclass
class PagedRetriever(FakeRetriever):
    """FakeRetriever that also lists each namespace's pages, as KnowledgeBase.documents does."""

    pages: dict[str, list[str]] = field(default_factory=dict)

    def documents(self, namespace: str) -> list[dict[str, Any]]:
        return [{"id": doc_id} for doc_id in self.pages.get(namespace, [])]

    def delete(self, doc_id: str, namespace: str) -> bool:
        return False  # the pages stay: other tests' sites share them


class Classifier(SiteAwareClassifier):
    """The site-aware fake, with no training examples kept: no intent page is looked up in this fake index."""

    def own_intents(self, data_path: Path) -> Any:
        return SimpleNamespace(**{**vars(super().own_intents(data_path)), "examples": {}})


@pytest.fixture()
def sites(tmp_path: Path) -> Assistant:
    """The default (sample shop) site and a bike site with its own templates file and intents."""
    settings = Settings(data_dir=tmp_path)
    book = TemplateBook.load(SAMPLE_TEMPLATES, defaults={"company": settings.company})
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=PagedRetriever(list(HITS), pages=PAGES),
                    understanding=Classifier(), policy=AnswerPolicy(settings.understanding, book),
                    store=Store(settings.resolved_database_url))
    templates, intents = files(tmp_path)
    bot.sites.ensure_default()
    bot.sites.create("bikes", "Bike support", company="Pedal Rentals", templates_path=str(templates),
                     intents_path=str(intents))
    return bot


def versions(bot: Assistant) -> int:
    with bot.store.session() as s:
        return s.scalar(select(func.count(TemplateVersion.id))) or 0


def test_an_edit_answers_the_next_turn_on_its_site_only(sites: Assistant) -> None:
    bot = sites
    assert ask(bot, "What time do you close on Sunday?", "bikes").answer == FILE_TEXT
    item = bot.templates.save("bikes", "bike.opening_hours", intent="opening_hours",
                              text="{company} rents bikes from 08:00 to 20:00, Sundays too.", sources=["bike-hours"],
                              actor="maria")
    assert (item.status, item.version, [v.action for v in item.versions]) == ("edited", 1, ["edit"])
    hours = ask(bot, "What time do you close on Sunday?", "bikes")
    assert (hours.route, hours.template_id) == ("template", "bike.opening_hours")
    assert hours.answer == "Pedal Rentals rents bikes from 08:00 to 20:00, Sundays too."
    # the default site never sees the bike site's edit, and keeps its own template
    shop = ask(bot, "When can I call you?")
    assert shop.template_id == "contact_hours.default" and "08:00 to 20:00" not in shop.answer
    assert bot.profiles.get("default").policy.templates.get("bike.opening_hours") is None
    entry = bot.audit.entries(site_id="bikes", action="template_edit")[0]
    assert (entry.actor, entry.target, entry.detail["version"]) == ("maria", "template:bike.opening_hours", 1)
    assert bot.audit.entries(site_id="default", action="template_edit") == []


def test_retire_removes_and_revert_restores_the_earlier_text(sites: Assistant) -> None:
    bot = sites
    bot.templates.save("bikes", "bike.opening_hours", intent="opening_hours", text="Open 08:00-20:00.",
                       sources=["bike-hours"])
    retired = bot.templates.retire("bikes", "bike.opening_hours", actor="maria")
    assert retired.status == "retired" and retired.text == "Open 08:00-20:00."
    after = ask(bot, "What time do you close on Sunday?", "bikes")
    assert after.template_id is None and after.route != "template"
    with pytest.raises(TemplateError, match="retired already"):
        bot.templates.retire("bikes", "bike.opening_hours")
    # version 1 (the edit) comes back as version 3, then version 0 gives the file's text back as version 4
    back = bot.templates.revert("bikes", "bike.opening_hours", 1, actor="maria")
    assert (back.status, back.version, back.versions[-1].restores) == ("edited", 3, 1)
    assert ask(bot, "What time do you close on Sunday?", "bikes").answer == "Open 08:00-20:00."
    original = bot.templates.revert("bikes", "bike.opening_hours", 0)
    assert (original.status, original.text, original.version) == ("file", "{company} is open {hours}.", 4)
    assert ask(bot, "What time do you close on Sunday?", "bikes").answer == FILE_TEXT
    actions = [e.action for e in reversed(bot.audit.entries(site_id="bikes")) if e.action.startswith("template")]
    assert actions == ["template_edit", "template_retire", "template_revert", "template_revert"]
    with pytest.raises(TemplateNotFound):
        bot.templates.revert("bikes", "bike.opening_hours", 9)


def test_an_added_template_answers_and_has_no_file_version(sites: Assistant) -> None:
    bot = sites
    bot.templates.save("bikes", "bike.hours_short", intent="opening_hours", text="Daily, {hours}.",
                       sources="bike-hours")  # a comma-separated string, as the console sends it
    # it goes before the intent's catch-all from the file, so it answers
    assert ask(bot, "What time do you close on Sunday?", "bikes").answer == "Daily, every day 09:00-18:00."
    listed = {t.id: t.status for t in bot.templates.list("bikes")}
    assert listed == {"bike.opening_hours": "file", "bike.hours_short": "added"}
    with pytest.raises(TemplateNotFound, match="no version 0"):
        bot.templates.revert("bikes", "bike.hours_short", 0)


@pytest.mark.parametrize(("change", "message"), [
    ({"text": "Open {opening_times}."}, "template bike.opening_hours: unknown slot {opening_times}"),
    ({"text": "   "}, "template bike.opening_hours: the text is empty"),
    ({"sources": ["bike-prices"]}, "unknown source page(s) bike-prices"),
    ({"text": "Open {hours!r}."}, "placeholder {hours} must be a plain name"),
    ({"requires": ["phone"]}, "cannot extract slot 'phone'"),
    ({"threshold": 1.5}, "threshold must be a number in [0, 1]"),
    ({"intent": ""}, "the intent must be"),
])
def test_a_bad_change_is_refused_and_stores_nothing(sites: Assistant, change: dict, message: str) -> None:
    bot = sites
    fields = {"intent": "opening_hours", "text": "Open {hours}.", "sources": ["bike-hours"], **change}
    with pytest.raises(TemplateError) as refused:
        bot.templates.save("bikes", "bike.opening_hours", **fields)
    assert message in str(refused.value)
    assert versions(bot) == 0
    assert [e for e in bot.audit.entries(site_id="bikes") if e.action.startswith("template")] == []
    assert ask(bot, "What time do you close on Sunday?", "bikes").answer == FILE_TEXT


def test_another_sites_pages_and_unknown_sites_are_refused(sites: Assistant) -> None:
    bot = sites
    bot.retriever.pages["bikes"] = ["bike-hours"]
    with pytest.raises(TemplateError, match="contact-hours"):  # a page of the default site's namespace only
        bot.templates.save("bikes", "bike.call", intent="opening_hours", text="Call us.", sources=["contact-hours"])
    with pytest.raises(SiteNotFound):
        bot.templates.save("nowhere", "x", intent="opening_hours", text="Hi.")
    assert versions(bot) == 0


def test_versions_cannot_be_changed_or_deleted(sites: Assistant) -> None:
    bot = sites
    bot.templates.save("bikes", "bike.opening_hours", intent="opening_hours", text="Open {hours}.")
    with bot.store.session() as s:
        row = s.scalar(select(TemplateVersion))
        row.text = "quietly changed"
        with pytest.raises(RuntimeError, match="cannot be changed"):
            s.flush()
        s.rollback()
    with pytest.raises(RuntimeError, match="cannot be deleted"), bot.store.session() as s:
        s.delete(s.scalar(select(TemplateVersion)))
        s.flush()
    # statements skip the per-row events: refused as well
    with pytest.raises(RuntimeError, match="cannot be changed"), bot.store.session() as s:
        s.execute(update(TemplateVersion).values(text="bulk change"))
    with pytest.raises(RuntimeError, match="cannot be deleted"), bot.store.session() as s:
        s.execute(delete(TemplateVersion))
    assert bot.templates.get("bikes", "bike.opening_hours").text == "Open {hours}."


def test_the_default_site_edits_its_global_templates(sites: Assistant) -> None:
    bot = sites
    bot.templates.save("default", "contact_hours.default", intent="contact_hours",
                       text="Call {company} any weekday.", sources=["contact-hours"])
    assert ask(bot, "When can I call you?").answer == "Call Northwind Outfitters any weekday."
    assert asyncio.run(bot.chat("When can I call you?", site_id="bikes", namespace="bikes")).answer != \
        "Call Northwind Outfitters any weekday."


def test_a_deleted_sites_edits_never_reach_a_new_site_of_the_same_id(sites: Assistant, tmp_path: Path) -> None:
    bot = sites
    bot.templates.save("bikes", "bike.opening_hours", intent="opening_hours", text="Old owner's hours.")
    bot.delete_site("bikes", force=True)
    templates, intents = files(tmp_path)
    bot.sites.create("bikes", "New bike shop", company="Pedal Rentals", templates_path=str(templates),
                     intents_path=str(intents))
    assert ask(bot, "What time do you close on Sunday?", "bikes").answer == FILE_TEXT
    item = bot.templates.get("bikes", "bike.opening_hours")
    assert (item.status, item.versions) == ("file", [])
