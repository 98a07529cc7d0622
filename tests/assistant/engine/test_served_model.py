"""Assistant.model: what routes, CLI and console know of the chat model (fake backend), and the facade's
intent methods for the console (intent_labels, retrain_intents)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.engine.backends import QUEUE_SIZE
from assistant.engine.backends.fake import FakeBackend
from assistant.engine.errors import AdapterNotFound, RetrainRefused
from assistant.engine.facade import Assistant
from assistant.engine.served_model import ServedModel
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from tests.support import FakeClassifier, FakeHit, FakeRetriever

HITS = [FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.9)]


@pytest.fixture
def bot(tmp_path: Path) -> Assistant:
    settings = Settings(data_dir=tmp_path)
    assistant = Assistant(settings, backend=FakeBackend(settings, adapters=["support-lora"]),
                          retriever=FakeRetriever(list(HITS)), understanding=FakeClassifier(),
                          policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                          store=Store(settings.resolved_database_url))
    yield assistant
    assistant.store.close()


def test_name_engine_and_context_window(bot: Assistant) -> None:
    assert isinstance(bot.model, ServedModel)
    assert (bot.model.id, bot.model.engine, bot.model.context_window) == ("fake-model", "fake", 4096)
    reply = asyncio.run(bot.chat("How long does a refund take?"))
    assert reply.model == bot.model.id


def test_tokens_under_the_models_tokenizer(bot: Assistant) -> None:
    # the fake backend counts words and adds no chat-template overhead
    assert bot.model.count_tokens([{"role": "user", "content": "where is my parcel"}]) == 4
    assert bot.model.count_tokens([{"role": "system", "content": "be brief"},
                                   {"role": "user", "content": "hi"}]) == 3
    assert bot.model.text_tokens("Refunds take five days.") == 4
    assert bot.model.text_tokens("") == 0


def test_text_tokens_subtract_the_chat_templates_overhead() -> None:
    class Templated(FakeBackend):
        def count_tokens(self, messages):
            return 7 + super().count_tokens(messages)  # 7 tokens of role markers around every prompt

    assert ServedModel(Templated()).text_tokens("two words") == 2


def test_adapters_and_what_a_request_may_name(bot: Assistant) -> None:
    model = bot.model
    assert model.adapters() == ["support-lora"] and model.names() == ["fake-model", "support-lora"]
    assert model.resolve("fake-model") == (None, "fake-model")
    assert model.resolve("fake-model", "support-lora") == ("support-lora", "support-lora")  # the site's default
    assert model.resolve("support-lora") == ("support-lora", "support-lora")
    assert model.resolve("support-lora", "") == ("support-lora", "support-lora")
    with pytest.raises(AdapterNotFound, match="serves: fake-model, support-lora"):
        model.resolve("gpt-4o")
    with pytest.raises(AdapterNotFound, match="'retired-lora'.*not loaded"):
        model.resolve("fake-model", "retired-lora")


def test_queue_full_follows_the_engines_queue(bot: Assistant) -> None:
    backend = bot.backend
    assert bot.model.queue_depth() == 0 and bot.model.queue_size == QUEUE_SIZE and not bot.model.queue_full()
    backend.queue_size = 2
    backend._active = backend.max_batch_size + 1
    assert bot.model.queue_depth() == 1 and not bot.model.queue_full()
    backend._active = backend.max_batch_size + 2
    assert bot.model.queue_depth() == 2 and bot.model.queue_full()


def test_an_engine_without_a_queue_is_never_full() -> None:
    class Unqueued:
        name, model_id, max_context_tokens = "remote", "m", 1024

        def adapters(self) -> list[str]:
            return []

    model = ServedModel(Unqueued())  # type: ignore[arg-type]
    assert model.queue_depth() == 0 and model.queue_size == QUEUE_SIZE and not model.queue_full()


def test_intent_labels_are_the_models_intents_and_out_of_scope(bot: Assistant) -> None:
    bot.understanding.intents = SimpleNamespace(examples={}, labels=["refund_status", "order_status"])
    assert bot.intent_labels() == ["oos", "order_status", "refund_status"]


def test_retrain_intents_uses_the_assistants_settings_and_refuses_too_few_examples(bot: Assistant) -> None:
    from assistant.engine.intent_examples import operator_examples_path

    replies = [asyncio.run(bot.chat(text)) for text in ("Can you gift wrap it?", "Gift wrapping please")]
    for reply in replies:
        question = bot.conversations.get(reply.conversation_id).messages[0]
        bot.conversations.assign_intent(question.id, "gift_wrapping", operator_examples_path(bot.settings))
    with pytest.raises(RetrainRefused, match="'gift_wrapping' has 2"):
        bot.retrain_intents()
    assert not (bot.settings.data_dir / "intent-model").exists()
