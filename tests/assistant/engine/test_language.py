"""The customer's language: detection on awkward input, and a turn that answers or hands off in that language."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.engine.facade import Assistant
from assistant.engine.understanding.language import LOCALISED, UNKNOWN, detect_language
from tests.assistant.engine.test_facade import REFUND_TEMPLATE, make
from tests.support import FakeClassifier, FakeHit


@pytest.mark.parametrize(("text", "language"), [
    ("How long does a refund take?", "en"),
    ("Combien de temps prend un remboursement ?", "fr"),
    ("Wie lange dauert eine Rückerstattung?", "de"),
    ("¿Cuánto tarda un reembolso? Lo necesito pronto.", "es"),
    ("退款需要多长时间？", "zh"),
    ("一个15欧元的头灯坏了，我必须寄回去吗？", "zh"),  # a number inside a sentence without spaces
    ("Où est ma commande NW-48213 ? Elle devait arriver hier.", "fr"),
    ("Hoe lang duurt een terugbetaling?", "nl"),  # detected, so not mistaken for German; no replies in Dutch
])
def test_sentences_are_recognised(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "   ", "👍👍", "ok", "merci", "NW-48213", "https://northwind.example/returns",
                                  "?!"])
def test_too_little_to_tell_is_unknown(text: str) -> None:
    assert detect_language(text) == UNKNOWN


def test_long_and_mixed_messages_get_a_label_without_error() -> None:
    assert detect_language("Where is my order? " * 250) == "en"  # 4,750 characters
    mixed = detect_language("Bonjour, my order NW-48213 n'est pas arrivé, can you help?")
    assert mixed in ("en", "fr", UNKNOWN)


FRENCH_PAGE = FakeHit("remboursement", "Délai de remboursement",
                      "Les remboursements sont versés sous 5 jours ouvrés après réception du retour.", 0.9)


def turn(bot: Assistant, text: str, conversation_id: str | None = None):
    return asyncio.run(bot.chat(text, conversation_id))


def test_question_in_another_language_than_the_pages_is_told_so_in_its_language_then_handed_off(
        tmp_path: Path) -> None:
    bot = make(tmp_path)  # English pages
    first = turn(bot, "Combien de temps prend un remboursement ?")
    assert first.route == "abstain" and first.abstained and first.answer == LOCALISED["fr"]["other_language"]
    assert not first.sources
    second = turn(bot, "Et pour un échange, c'est combien de temps ?", first.conversation_id)
    assert second.route == "handoff" and second.handoff.reason == "repeated_abstention"
    assert second.answer == LOCALISED["fr"]["handoff"]
    # a person has the chat now: the assistant stays silent in any language (the agent replies)
    waiting = turn(bot, "Merci, j'attends votre collègue alors.", first.conversation_id)
    assert (waiting.route, waiting.answer) == ("paused", "")


def test_a_page_in_the_customers_language_answers(tmp_path: Path) -> None:
    bot = make(tmp_path, hits=[FRENCH_PAGE])
    reply = turn(bot, "Combien de temps prend un remboursement ?")
    assert reply.route in ("generate", "extractive") and not reply.abstained
    assert [s.doc_id for s in reply.sources][:1] == ["remboursement"]


def test_pages_in_the_customers_language_are_preferred_to_better_scored_ones(tmp_path: Path) -> None:
    english = FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days of the return.", 0.9)
    bot = make(tmp_path, hits=[english, replace(FRENCH_PAGE, score=0.4)])
    french = turn(bot, "Combien de temps prend un remboursement ?")
    assert [s.doc_id for s in french.sources] == ["remboursement"]
    assert turn(bot, "How long does a refund take?").sources[0].doc_id == "refund-timing"


@pytest.mark.parametrize(("text", "language"), [("Je veux parler à un humain, s'il vous plaît", "fr"),
                                                 ("Ich möchte mit einem Mitarbeiter sprechen", "de"),
                                                 ("Quiero hablar con una persona", "es"),
                                                 ("请帮我转人工客服", "zh")])
def test_asking_for_a_person_in_another_language_hands_off_in_it(tmp_path: Path, text: str, language: str) -> None:
    reply = turn(make(tmp_path), text)
    assert reply.route == "handoff" and reply.handoff.reason == "customer_request"
    assert reply.answer == LOCALISED[language]["handoff"]


def test_an_operators_own_abstain_text_is_sent_as_written(tmp_path: Path) -> None:
    own = "We could not find that. Please e-mail help@northwind.example."
    bot = make(tmp_path, hits=[], understanding={"abstain_message": own})
    reply = turn(bot, "Wie lange dauert eine Rückerstattung?")
    assert reply.route == "abstain" and reply.answer == own


def test_an_english_template_is_not_sent_to_a_german_question(tmp_path: Path) -> None:
    bot = make(tmp_path, templates=REFUND_TEMPLATE, classifier=FakeClassifier(confidence=0.9))
    english = turn(bot, "How long does a refund take?")
    assert english.route == "template"
    german = turn(bot, "Wie lange dauert eine Rückerstattung?")
    assert german.route != "template" and german.answer == LOCALISED["de"]["other_language"]
