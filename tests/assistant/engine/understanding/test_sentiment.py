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
        "My order still hasn't arrived after three weeks and nobody answers my emails. Unacceptable.": "negative",
        "Thank you so much, you were incredibly helpful!": "positive",
        "I love my new boots, great quality": "positive",
        "What are your opening hours on Saturday?": "neutral",
        "Do you ship to Norway?": "neutral",
        # plain questions the old prototype model read as negative (issue #30's trial)
        "How long does a refund take?": "neutral",
        "What's the capital of Australia?": "neutral",
        "how long will it take?": "neutral",
    }
    predicted = default.predict(encoder, list(cases))
    assert dict(zip(cases, predicted, strict=True)) == cases
    # a topic the head never saw and no negative word: never negative (the first head read these as complaints)
    unseen = ["How long does the MLOps course take?", "Where is the link to the office hours stream?",
              "How will my capstone project be evaluated?"]
    assert "negative" not in default.predict(encoder, unseen)
    result = default.analyze("Thanks, great help!", encoder.embed_one("Thanks, great help!"))
    assert result.label == "positive" and 0 < result.score <= 1
    text = "This is ridiculous, I want a refund now!"
    angry = default.analyze(text, encoder.embed_one(text))
    assert angry.score < 0


def test_default_head_records_where_it_came_from(encoder):
    meta = DefaultSentiment(encoder).meta
    assert any("CLINC150" in s for s in meta["sources"]) and any("VADER" in s for s in meta["sources"])
    assert meta["held_out_plain_read_negative"] <= meta["neutral_alarm_budget"] + 0.005


def test_a_broken_default_head_stops_start_up_with_its_path(encoder, tmp_path):
    broken = tmp_path / "sentiment_head.npz"
    broken.write_bytes(b"not a numpy archive")
    with pytest.raises(RuntimeError, match=r"sentiment_head.npz cannot be loaded"):
        DefaultSentiment(encoder, broken)
    with pytest.raises(RuntimeError, match=r"cannot be loaded"):
        DefaultSentiment(encoder, tmp_path / "missing.npz")
