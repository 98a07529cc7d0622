"""Sentiment: the shipped default on obvious messages, label checks, and the conversation trajectory."""

from __future__ import annotations

import pytest

from assistant.engine.events import Sentiment
from assistant.engine.understanding.sentiment import (
    DefaultSentiment,
    normalise_sentiment_labels,
    sentiment_trajectory,
)


def test_trajectory_from_sentiments_and_labels():
    series = [Sentiment(label="neutral", score=0.05), None, "negative", Sentiment(label="positive", score=0.8)]
    assert sentiment_trajectory(series) == [0.05, -1.0, 0.8]
    assert sentiment_trajectory([]) == []


def test_label_normalisation_and_errors():
    assert normalise_sentiment_labels([" Negative", "POSITIVE", "neutral"]) == ["negative", "positive", "neutral"]
    with pytest.raises(ValueError, match=r"train.csv: sentiment labels must be negative, neutral, positive"):
        normalise_sentiment_labels(["good", "bad"], "train.csv")


@pytest.mark.slow
def test_default_sentiment_on_obvious_messages(encoder):
    default = DefaultSentiment(encoder)
    cases = {
        "This is the worst service ever, I am furious and want my money back": "negative",
        "My order still hasn't arrived after three weeks and nobody answers my emails": "negative",
        "Thank you so much, you were incredibly helpful!": "positive",
        "I love my new boots, great quality": "positive",
        "What are your opening hours on Saturday?": "neutral",
        "Do you ship to Norway?": "neutral",
    }
    predicted = default.predict(encoder, list(cases))
    assert predicted == list(cases.values())
    result = default.analyze("Thanks, great help!", encoder.embed_one("Thanks, great help!"))
    assert result.label == "positive" and 0 < result.score <= 1
