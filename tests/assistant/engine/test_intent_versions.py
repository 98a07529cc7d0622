"""Intent examples edited per site (intent_versions.py) on a real SQLite store and the real intent model (MiniLM
encoder, frozen, trained on a small CSV in seconds): a site's added examples change its classification after a
retrain and not another site's, revert restores, every change is an immutable version with an audit entry, and
bad input stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assistant.engine.audit import AuditEntry
from assistant.engine.backends.fake import FakeBackend
from assistant.engine.errors import RetrainRefused
from assistant.engine.facade import Assistant
from assistant.engine.intent_versions import IntentEditError, IntentVersion
from assistant.engine.models import resolve_embedding_model
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding import classifier
from assistant.engine.understanding.encoder import Encoder
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.sentiment import DefaultSentiment
from assistant.engine.understanding.templates import TemplateBook
from assistant.engine.understanding.understanding import Understanding, train_intent_model
from tests.support import FakeRetriever

EXAMPLES = {
    "opening_hours": ["when are you open", "what are your opening hours", "are you open on sunday",
                      "what time do you close", "opening times please", "until when are you open today"],
    "rental_price": ["how much is a bike", "price of a bike per day", "what does renting cost",
                     "how expensive is a rental", "daily rate for a bike", "cost of hiring a bike"],
}
# Messages about a lost helmet: neither intent of the file; an operator teaches the site a new one
HELMET = ["I lost my helmet on the ride", "someone took my helmet", "my helmet is missing",
          "where can I find a lost helmet", "I left my helmet at your shop"]
PROBE = "I think I lost my helmet"


def write_intents(path: Path) -> Path:
    rows = ["text,intent", *(f"{t},{i}" for i, texts in EXAMPLES.items() for t in texts)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def understanding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Understanding]:
    """The real Understanding (shared sentiment, a global model of the small CSV, the shared model cache)."""
    tmp = tmp_path_factory.mktemp("understanding")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(classifier, "FINETUNE_EPOCHS", 0)  # a frozen encoder trains in seconds
        settings = Settings(data_dir=tmp)
        encoder = Encoder(resolve_embedding_model(settings.retrieval.embedding_model))
        model = train_intent_model(encoder, write_intents(tmp / "global.csv"), progress=False)
        yield Understanding(settings.understanding, encoder, model, DefaultSentiment(encoder), TemplateBook.empty(),
                            cache_dir=tmp / "cache")


@pytest.fixture()
def bot(tmp_path: Path, understanding: Understanding) -> Assistant:
    """Two bike sites with the same intents file, each with its own model; `default` the shared one."""
    settings = Settings(data_dir=tmp_path)
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=FakeRetriever([]), understanding=understanding,
                    policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=Store(settings.resolved_database_url))
    intents = write_intents(tmp_path / "bike-intents.csv")
    for site in ("bikes", "scooters"):
        bot.sites.create(site, site.title(), intents_path=str(intents))
    return bot


def rows(bot: Assistant, model: type) -> int:
    with bot.store.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_added_examples_classify_on_their_site_after_a_retrain_and_revert_restores(bot: Assistant) -> None:
    assert bot.profiles.get("bikes").classify(PROBE).intent != "lost_property"
    for text in HELMET:
        bot.intents.add("bikes", "lost_property", text, actor="maria")
    overview = bot.intents.overview("bikes")
    assert (overview.version, overview.trained, overview.pending) == (5, None, True)
    assert {i.intent: (i.examples, i.status) for i in overview.intents}["lost_property"] == (5, "added")
    assert bot.profiles.get("bikes").classify(PROBE).intent != "lost_property"  # not before a retrain

    report = bot.intents.retrain("bikes", actor="maria")
    assert (report.examples, report.operator_examples, report.intents) == (17, 5, 3)
    assert bot.profiles.get("bikes").classify(PROBE).intent == "lost_property"
    assert bot.profiles.get("scooters").classify(PROBE).intent != "lost_property"  # another site: its own model
    assert not bot.intents.overview("bikes").pending

    bot.intents.remove("bikes", "opening_hours", "Opening times please", actor="maria")  # any case
    assert len(bot.intents.examples("bikes", "opening_hours")) == 5
    bot.intents.retire("bikes", "lost_property", actor="maria")
    assert bot.intents.examples("bikes", "lost_property") == []
    assert {i.intent: i.status for i in bot.intents.overview("bikes").intents}["lost_property"] == "retired"
    bot.intents.retrain("bikes", actor="maria")
    assert bot.profiles.get("bikes").classify(PROBE).intent != "lost_property"

    bot.intents.revert("bikes", 6, actor="ana")  # the examples as they were when first retrained
    assert len(bot.intents.examples("bikes", "lost_property")) == 5
    assert len(bot.intents.examples("bikes", "opening_hours")) == 6
    bot.intents.retrain("bikes", actor="ana")
    assert bot.profiles.get("bikes").classify(PROBE).intent == "lost_property"
    bot.intents.revert("bikes", 0, actor="ana")  # the file's examples
    assert sorted(bot.intents.examples("bikes")) == sorted(bot.intents.examples("scooters"))

    history = [(v.version, v.action, v.actor) for v in bot.intents.overview("bikes").versions]
    assert history[5:] == [(6, "retrain", "maria"), (7, "remove", "maria"), (8, "retire", "maria"),
                           (9, "retrain", "maria"), (10, "revert", "ana"), (11, "retrain", "ana"),
                           (12, "revert", "ana")]
    audit = [(e.actor, e.action, e.detail["version"]) for e in reversed(bot.audit.entries(site_id="bikes"))
             if e.action.startswith("intent_")]
    assert audit == [("maria", "intent_add", n) for n in range(1, 6)] + [
        ("maria", "intent_retrain", 6), ("maria", "intent_remove", 7), ("maria", "intent_retire", 8),
        ("maria", "intent_retrain", 9), ("ana", "intent_revert", 10), ("ana", "intent_retrain", 11),
        ("ana", "intent_revert", 12)]
    assert all(HELMET[0] not in str(e.detail) for e in bot.audit.entries(site_id="bikes"))  # never the words
    assert bot.audit.entries(site_id="scooters", action="intent_add") == []


def test_a_fresh_replica_uses_the_retrained_model(bot: Assistant, tmp_path: Path) -> None:
    """The model of the newest retrain comes from the versions: a replica without the examples file writes it
    again and loads the model from the shared cache."""
    for text in HELMET:
        bot.intents.add("bikes", "lost_property", text)
    report = bot.intents.retrain("bikes")
    Path(report.model_dir).unlink()
    other = Assistant(bot.settings, backend=bot.backend, retriever=bot.retriever, understanding=bot.understanding,
                      policy=bot.policy, store=bot.store)
    assert other.profiles.get("bikes").classify(PROBE).intent == "lost_property"


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: b.intents.add("bikes", "lost_property", "   "), "the example text is empty"),
    (lambda b: b.intents.add("bikes", "Lost Property", "my helmet"), "intent name 'Lost Property'"),
    (lambda b: b.intents.add("bikes", "opening_hours", "When are you open"), "already an example"),
    (lambda b: b.intents.add("bikes", "lost_property", "x" * 5000), "the limit is"),
    (lambda b: b.intents.add("nowhere", "lost_property", "my helmet"), "no site 'nowhere'"),
    (lambda b: b.intents.remove("bikes", "lost_property", "my helmet"), "has no intent 'lost_property'"),
    (lambda b: b.intents.remove("bikes", "opening_hours", "my helmet"), "not an example of 'opening_hours'"),
    (lambda b: b.intents.retire("bikes", "lost_property"), "has no intent 'lost_property'"),
    (lambda b: b.intents.retire("nowhere", "opening_hours"), "no site 'nowhere'"),
    (lambda b: b.intents.revert("bikes", 3), "no intents version 3"),
])
def test_bad_changes_store_nothing(bot: Assistant, change, message: str) -> None:
    with pytest.raises(IntentEditError, match=message):
        change(bot)
    assert rows(bot, IntentVersion) == 0
    assert [e for e in bot.audit.entries() if e.action.startswith("intent_")] == []


def test_a_retrain_with_too_few_examples_is_refused_and_stores_nothing(bot: Assistant) -> None:
    bot.intents.add("bikes", "lost_property", HELMET[0])
    with pytest.raises(RetrainRefused, match="'lost_property' has 1"):
        bot.intents.retrain("bikes")
    bot.sites.create("empty", "Empty")
    with pytest.raises(RetrainRefused, match="at least two intents"):
        bot.intents.retrain("empty")
    assert [v.action for v in bot.intents.overview("bikes").versions] == ["add"]
    assert bot.audit.entries(action="intent_retrain") == []


def test_versions_are_immutable(bot: Assistant) -> None:
    bot.intents.add("bikes", "lost_property", HELMET[0])
    with bot.store.session() as s:
        row = s.scalars(select(IntentVersion)).one()
        row.text = "changed"
        with pytest.raises(RuntimeError, match="cannot be changed"):
            s.flush()
    with bot.store.session() as s, pytest.raises(RuntimeError, match="cannot be deleted"):
        s.delete(s.scalars(select(IntentVersion)).one())
        s.flush()
    assert rows(bot, AuditEntry) >= 1 and bot.intents.examples("bikes", "lost_property") == [(HELMET[0],
                                                                                               "lost_property")]


def test_the_default_sites_shared_model_is_retrained_in_place(tmp_path: Path, understanding: Understanding) -> None:
    """The default site on the configured intent data: its examples are that file's, and a retrain swaps the shared
    model (saved where the server loads it from), as the queue's retrain did."""
    settings = Settings(data_dir=tmp_path, understanding={"intent_data": str(write_intents(tmp_path / "mine.csv"))})
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=FakeRetriever([]), understanding=understanding,
                    policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=Store(settings.resolved_database_url))
    assert bot.profiles.get("default").shared_intents and len(bot.intents.examples("default")) == 12
    for text in HELMET:
        bot.intents.add("default", "lost_property", text, actor="maria")
    report = bot.intents.retrain("default", actor="maria")
    assert (report.examples, report.operator_examples) == (17, 5)
    assert (tmp_path / "intent-model" / "meta.json").exists()
    assert bot.profiles.get("default").classify(PROBE).intent == "lost_property"
    assert [e.action for e in bot.audit.entries(site_id="default")][0] == "intent_retrain"
