"""The sample shop's intents come with the sample knowledge base only (site_profile.py): with the operator's own
knowledge base (kb_path) the default site reports no intent, unless the operator gave intent data of their own
(understanding.intent_data) or the site has its intents file. The real-server check is
tests/assistant/server/test_opening_hours.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from tests.assistant.engine.test_site_profile import HITS, SiteAwareClassifier
from tests.support import FakeRetriever


def _bot(tmp_path: Path, **settings: object) -> Assistant:
    config = Settings(data_dir=tmp_path, **settings)
    return Assistant(config, backend=FakeBackend(config), retriever=FakeRetriever(list(HITS)),
                     understanding=SiteAwareClassifier(), policy=AnswerPolicy(config.understanding, TemplateBook.empty()),
                     store=Store(config.resolved_database_url))


@pytest.mark.parametrize(("settings", "intent"), [
    ({}, "contact_hours"),  # the sample knowledge base: the sample shop's intents, as before
    ({"kb_path": "course-faq"}, None),  # the operator's own knowledge base: none of the shop's
    ({"kb_path": "course-faq", "understanding": {"intent_data": "course-intents.csv"}}, "contact_hours"),
])
def test_the_default_sites_intents_follow_the_knowledge_base(tmp_path: Path, settings: dict, intent: str | None) -> None:
    bot = _bot(tmp_path, **settings)
    reply = asyncio.run(bot.chat("When can I reach you?"))
    assert reply.intent == intent and bool(reply.intents) == (intent is not None)
    assert (bot.profiles.get("default").intent_model() is None) == (intent is None)


def test_its_own_intents_file_applies_on_an_operator_knowledge_base(tmp_path: Path) -> None:
    intents = tmp_path / "course-intents.csv"
    intents.write_text("text,intent\nwhen are you open,opening_hours\nopening hours?,opening_hours\n"
                       "price of a bike,rental_price\nhow much per day,rental_price\n")
    bot = _bot(tmp_path, kb_path="course-faq")
    bot.sites.ensure_default()
    bot.sites.update("default", intents_path=str(intents))
    assert bot.profiles.get("default").classify("When are you open?").intent == "opening_hours"
