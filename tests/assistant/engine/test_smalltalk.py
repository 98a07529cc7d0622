"""Small talk: greetings, thanks, goodbyes, "are you a bot?" and wordless messages are recognised; anything
that also asks something is not."""

from __future__ import annotations

import pytest

from assistant.engine.smalltalk import SmallTalk, small_talk


@pytest.mark.parametrize(("message", "kind"), [
    ("Hello", "greeting"),
    ("hi there!", "greeting"),
    ("Good morning", "greeting"),
    ("Thanks, that helped!", "thanks"),
    ("thank you so much", "thanks"),
    ("Perfect, thanks!", "thanks"),
    ("ok thanks", "thanks"),
    ("👍", "thanks"),
    ("Thanks, bye!", "goodbye"),
    ("Goodbye", "goodbye"),
    ("have a nice day", "goodbye"),
    ("Are you a bot?", "bot"),
    ("am I talking to a real person?", "bot"),
    ("hi, are you a bot?", "bot"),
    ("???", "no_words"),
    ("🤔🤔", "no_words"),
])
def test_small_talk_is_recognised(message: str, kind: str) -> None:
    assert small_talk(message) == kind


@pytest.mark.parametrize("message", [
    "Thanks! How do I return a jacket?",
    "Hi, where is my parcel?",
    "How long does a refund take?",
    "hello, I want to cancel my order",
    "thanks but the code still fails",
    "Do you ship to Canada?",
    "bye the way, what are your hours",  # a typo is still a question
])
def test_a_message_that_asks_something_is_not_small_talk(message: str) -> None:
    assert small_talk(message) is None


def test_replies_speak_in_the_sites_name_and_never_abstain() -> None:
    shop = SmallTalk(company="Bike Rentals Ltd")
    assert "Bike Rentals Ltd" in shop.reply("greeting")
    assert "Bike Rentals Ltd" in shop.reply("bot") and "person" in shop.reply("bot")
    nameless = SmallTalk()
    for kind in ("greeting", "thanks", "goodbye", "bot", "no_words"):
        text = nameless.reply(kind)
        assert text and "couldn't find" not in text.lower() and "  " not in text
