"""A site is a whole assistant (site_profile.py): what a second site's customers are told comes from that site alone,
the default site keeps the global settings, and a site is deleted with its data (site_deletion.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.errors import SiteBusy, SiteError, SiteNotFound
from assistant.engine.events import Classification, IntentScore
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.config import DEFAULT_HANDOFF_MESSAGE
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.engine.understanding.understanding import SAMPLE_TEMPLATES
from tests.support import FakeClassifier, FakeHit, FakeRetriever

HITS = [FakeHit("bike-hours", "Opening hours", "We rent bikes every day from 09:00 to 18:00.", 0.9),
        FakeHit("contact-hours", "Contact hours", "Our team answers Monday to Friday.", 0.8)]
BIKE_TEMPLATES = """\
slots:
  hours: "every day 09:00-18:00"
intents:
  opening_hours:
    templates:
      - id: bike.opening_hours
        text: "{company} is open {hours}."
        sources: [bike-hours]
"""
SHOP_HANDOFF = "Northwind's team will answer you here."


class SiteAwareClassifier(FakeClassifier):
    """The shared classifier (sample-shop intents), plus the two Understanding methods a site's own intents use."""

    def __init__(self) -> None:
        super().__init__(intent="contact_hours", confidence=0.95)
        self.trained: list[Path] = []

    def own_intents(self, data_path: Path) -> Any:
        self.trained.append(data_path)
        return SimpleNamespace(labels=["opening_hours", "rental_price"],
                               examples={"opening_hours": ["when are you open"]})

    def classify_with(self, text: str, intents: Any) -> Classification:
        shared = self.classify(text)
        return shared.model_copy(update={"intent": "opening_hours", "confidence": 0.93,
                                         "intents": [IntentScore(intent="opening_hours", probability=0.93)]})


@pytest.fixture()
def bot(tmp_path: Path) -> Assistant:
    settings = Settings(data_dir=tmp_path, understanding={"handoff_message": SHOP_HANDOFF})
    book = TemplateBook.load(SAMPLE_TEMPLATES, defaults={"company": settings.company})
    return Assistant(settings, backend=FakeBackend(settings), retriever=FakeRetriever(list(HITS)),
                     understanding=SiteAwareClassifier(), policy=AnswerPolicy(settings.understanding, book),
                     store=Store(settings.resolved_database_url))


def ask(bot: Assistant, text: str, site_id: str = "default", **kw: Any) -> Any:
    return asyncio.run(bot.chat(text, site_id=site_id, namespace=site_id, **kw))


def files(tmp_path: Path) -> tuple[Path, Path]:
    templates, intents = tmp_path / "bike-templates.yaml", tmp_path / "bike-intents.csv"
    templates.write_text(BIKE_TEMPLATES)
    intents.write_text("text,intent\nwhen are you open,opening_hours\nopening hours?,opening_hours\n"
                       "price of a bike,rental_price\nhow much per day,rental_price\n")
    return templates, intents


def test_the_default_site_keeps_the_global_settings(bot: Assistant) -> None:
    bot.sites.ensure_default()
    hello = ask(bot, "Hello")
    assert hello.template_id == "greeting.default" and "Northwind Outfitters" in hello.answer
    hours = ask(bot, "When can I call you?")
    assert hours.route == "template" and hours.template_id == "contact_hours.default"
    assert ask(bot, "I want to talk to a person").answer == SHOP_HANDOFF
    assert "Northwind Outfitters" in bot.profiles.get("default").prompt.system_prompt


def test_a_new_site_has_nothing_of_the_sample_shop(bot: Assistant) -> None:
    bot.sites.create("bikes", "Pedal Rentals")
    hello = ask(bot, "Hello", "bikes")
    assert hello.route == "smalltalk" and hello.template_id is None
    assert hello.answer == "Hi, welcome to Pedal Rentals! What can I help you with?"
    # The shared model read "contact_hours" at 0.95 with a template: this site has neither intents nor templates.
    hours = ask(bot, "When can I call you?", "bikes")
    assert hours.route != "template" and hours.intent is None and hours.intents == [] and hours.confidence == 0.0
    assert "Northwind" not in hours.answer
    assert ask(bot, "I want to talk to a person", "bikes").answer == DEFAULT_HANDOFF_MESSAGE
    assert bot.handoff_message("bikes") == DEFAULT_HANDOFF_MESSAGE and bot.handoff_message() == SHOP_HANDOFF
    prompt = bot.profiles.get("bikes").prompt.system_prompt
    assert "Pedal Rentals" in prompt and "Northwind" not in prompt
    stored = bot.store.get_conversation(hours.conversation_id, "bikes").messages[0]
    assert stored.intent is None and not stored.out_of_scope


def test_a_site_speaks_with_its_own_profile_templates_and_intents(bot: Assistant, tmp_path: Path) -> None:
    templates, intents = files(tmp_path)
    bot.sites.create("bikes", "Bike support", company="Pedal Rentals", greeting="Hey rider! Where to today?",
                     system_prompt="You help the riders of {company}. Be cheerful.", handoff_message="A rider "
                     "guide will write back.", templates_path=str(templates), intents_path=str(intents))
    assert ask(bot, "Hello", "bikes").answer == "Hey rider! Where to today?"
    hours = ask(bot, "What time do you close on Sunday?", "bikes")
    assert (hours.route, hours.template_id, hours.intent) == ("template", "bike.opening_hours", "opening_hours")
    assert hours.answer == "Pedal Rentals is open every day 09:00-18:00." and hours.sources[0].doc_id == "bike-hours"
    assert ask(bot, "I want to talk to a person", "bikes").answer == "A rider guide will write back."
    profile = bot.profiles.get("bikes")
    assert profile.prompt.system_prompt == "You help the riders of Pedal Rentals. Be cheerful."
    assert profile.intent_examples("opening_hours") == ["when are you open"]
    # trained once for the file, whatever the number of turns; the default site still has the shop's template
    assert bot.understanding.trained == [intents]
    assert ask(bot, "When can I call you?").template_id == "contact_hours.default"


def test_a_change_applies_from_the_next_turn_and_an_edited_file_is_read_again(bot: Assistant, tmp_path: Path) -> None:
    templates, _ = files(tmp_path)
    bot.sites.create("bikes", "Pedal Rentals")
    bot.sites.update("bikes", company="Spokes & Co")
    assert ask(bot, "Hello", "bikes").answer.startswith("Hi, welcome to Spokes & Co!")
    bot.sites.update("bikes", templates_path=str(templates))
    assert bot.profiles.get("bikes").policy.templates.intents == ["opening_hours"]
    templates.write_text(BIKE_TEMPLATES.replace("opening_hours", "hours_today"))
    assert bot.profiles.get("bikes").policy.templates.intents == ["hours_today"]
    bot.sites.update("bikes", company="", templates_path="")  # empty clears: back to the site's name, no templates
    profile = bot.profiles.get("bikes")
    assert profile.company == "Pedal Rentals" and profile.policy.templates.intents == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("templates_path", "missing.yaml", "templates file not found"),
    ("templates_path", "broken.yaml", "broken.yaml:5: template x.default: unknown slot {nope}"),
    ("intents_path", "one.csv", "need at least 2 different labels"),
    ("intents_path", "thin.csv", "each label needs at least 2"),
    ("company", "x" * 201, "company is 201 characters"),
])
def test_bad_profile_values_are_refused_and_nothing_is_written(bot: Assistant, tmp_path: Path, field: str,
                                                               value: str, message: str) -> None:
    (tmp_path / "broken.yaml").write_text("intents:\n  x:\n    templates:\n      - id: x.default\n"
                                          "        text: 'Hi {nope}'\n")
    (tmp_path / "one.csv").write_text("text,intent\nhi,greeting\nhello,greeting\n")
    (tmp_path / "thin.csv").write_text("text,intent\nhi,greeting\nhello,greeting\nbye,goodbye\n")
    if field != "company":
        value = str(tmp_path / value)
    with pytest.raises(SiteError, match=message.replace("{", r"\{").replace("}", r"\}")):
        bot.sites.create("bikes", "Pedal Rentals", **{field: value})
    with pytest.raises(SiteNotFound):
        bot.sites.get("bikes")
    bot.sites.create("bikes", "Pedal Rentals", company="Pedal")
    with pytest.raises(SiteError):
        bot.sites.update("bikes", greeting="Hi!", **{field: value})
    site = bot.sites.get("bikes")
    assert (site.company, site.greeting, getattr(site, field) if field != "company" else None) == ("Pedal", None, None)


class FakeKnowledge:
    def __init__(self, docs: dict[str, list[str]]) -> None:
        self.docs = docs

    def documents(self, namespace: str) -> list[dict[str, str]]:
        return [{"id": d} for d in self.docs.get(namespace, [])]

    def delete_document(self, doc_id: str, namespace: str) -> bool:
        self.docs[namespace].remove(doc_id)
        return True


def test_deleting_a_site_removes_its_data_and_only_its_data(bot: Assistant) -> None:
    bot.sites.ensure_default()
    bot.sites.create("bikes", "Pedal Rentals")
    bot.sites.create("boats", "Boats", namespace="shared")
    bot.sites.create("kayaks", "Kayaks", namespace="shared")
    bot.sites.issue_key("bikes", "backend")
    kept = ask(bot, "Hello").conversation_id
    ask(bot, "Hello", "bikes")
    handed = ask(bot, "I want to talk to a person", "bikes").conversation_id
    knowledge = FakeKnowledge({"bikes": ["bike-hours", "prices"], "default": ["refunds"], "shared": ["boats"]})
    with pytest.raises(SiteBusy, match="1 open handoff"):
        bot.sites.delete("bikes", knowledge=knowledge)
    assert bot.store.exists(handed) and knowledge.docs["bikes"] and bot.sites.data("bikes").keys == 1
    with pytest.raises(SiteBusy, match="default site"):
        bot.sites.delete("default", force=True, knowledge=knowledge)
    deleted = bot.sites.delete("bikes", force=True, knowledge=knowledge)
    assert (deleted.conversations, deleted.keys, deleted.documents) == (2, 1, 2)
    assert list(bot.store.list_conversations(site_id="bikes")) == [] and bot.sites.data("default").conversations == 1
    assert not bot.store.exists(handed) and bot.store.exists(kept) and knowledge.docs["default"] == ["refunds"]
    with pytest.raises(SiteNotFound):
        bot.sites.get("bikes")
    boats = bot.sites.delete("boats", knowledge=knowledge)
    assert boats.namespace_shared and boats.documents == 0 and knowledge.docs["shared"] == ["boats"]
