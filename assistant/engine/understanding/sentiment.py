"""Sentiment per message (negative / neutral / positive with a signed score) and per conversation (trajectory).

The shipped default needs no training data: the VADER lexicon (MIT) blended with MiniLM
similarity to prototype sentences written for this project, which catch customer-service
complaints a lexicon misses ("still waiting for my parcel"). `assistant train sentiment`
replaces it with a TextClassifier trained on labelled data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assistant.engine.events import Sentiment
from assistant.engine.understanding.classifier import TextClassifier
from assistant.engine.understanding.encoder import Encoder

SENTIMENT_LABELS = ("negative", "neutral", "positive")

PROTOTYPES: dict[str, list[str]] = {
    "negative": [
        "This is unacceptable, I am really angry.",
        "My order still hasn't arrived after two weeks.",
        "I've been waiting forever and nobody answers me.",
        "The item arrived broken and nobody cares.",
        "Worst customer service I have ever experienced.",
        "I'm very disappointed with this purchase.",
        "You charged me twice and I want my money back now.",
        "This is the third time I'm asking and still no reply.",
        "Terrible, the jacket fell apart after one week.",
        "I'm so frustrated, your website keeps failing.",
        "Why is my refund taking so long? This is ridiculous.",
        "Stop ignoring me and fix this.",
        "My flight was cancelled and I was stuck for hours.",
        "I lost my luggage and no one helps.",
    ],
    "neutral": [
        "Where is my order?",
        "How long does shipping take to Germany?",
        "Can I change the delivery address?",
        "What payment methods do you accept?",
        "I would like to return a pair of boots.",
        "Do you ship to Canada?",
        "What are your opening hours?",
        "How do I reset my password?",
        "Is this tent available in green?",
        "I need an invoice for my order.",
        "What is the status of my refund?",
        "Can I use two discount codes?",
        "Which size should I pick?",
        "Please send me the tracking number.",
    ],
    "positive": [
        "Thank you so much, that was really helpful!",
        "Great service, the parcel arrived a day early.",
        "I love the new jacket, it fits perfectly.",
        "Thanks, problem solved.",
        "You were very quick, I appreciate it.",
        "Excellent quality, I'm very happy with my order.",
        "Perfect, that's exactly what I needed.",
        "The support team was friendly and fast.",
        "Awesome, thanks for the refund!",
        "Wonderful experience, I will order again.",
        "Thanks a lot for your help today.",
        "The boots are amazing and super comfortable.",
    ],
}


def label_for(score: float, margin: float) -> str:
    if score <= -margin:
        return "negative"
    if score >= margin:
        return "positive"
    return "neutral"


class DefaultSentiment:
    """VADER compound blended with prototype similarity; needs only the base MiniLM embedding."""

    name = "default"
    needs_layers = None  # full base stack (the final mean-pooled embedding)

    def __init__(self, encoder: Encoder, lexicon_weight: float = 0.5, margin: float = 0.15) -> None:
        self.vader = SentimentIntensityAnalyzer()
        self.lexicon_weight = lexicon_weight
        self.margin = margin
        vectors = []
        for label in SENTIMENT_LABELS:
            emb = encoder.embed(PROTOTYPES[label])
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
            vectors.append(emb.mean(0))
        centroids = np.stack(vectors)
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    def score(self, text: str, embedding: np.ndarray) -> float:
        compound = float(self.vader.polarity_scores(text)["compound"])
        vec = embedding / max(float(np.linalg.norm(embedding)), 1e-9)
        sims = self.centroids @ vec
        # softmax over cosine similarities; 20 turns the small cosine gaps into usable odds
        probs = np.exp(20 * (sims - sims.max()))
        probs /= probs.sum()
        prototype = float(probs[2] - probs[0])
        return float(np.clip(self.lexicon_weight * compound + (1 - self.lexicon_weight) * prototype, -1, 1))

    def analyze(self, text: str, embedding: np.ndarray) -> Sentiment:
        score = self.score(text, embedding)
        return Sentiment(label=label_for(score, self.margin), score=round(score, 4))

    def predict(self, encoder: Encoder, texts: list[str]) -> list[str]:
        embeddings = encoder.embed(texts)
        return [label_for(self.score(t, e), self.margin) for t, e in zip(texts, embeddings, strict=True)]


class TrainedSentiment:
    """A TextClassifier over the three sentiment labels (from `assistant train sentiment`)."""

    name = "trained"

    def __init__(self, model: TextClassifier) -> None:
        missing = set(model.labels) - set(SENTIMENT_LABELS)
        if missing:
            raise ValueError(f"sentiment labels must be {', '.join(SENTIMENT_LABELS)}; got {sorted(missing)}")
        self.model = model

    @property
    def needs_layers(self) -> int:
        return self.model.n_frozen

    def _from_probs(self, probs: np.ndarray) -> Sentiment:
        by_label = dict(zip(self.model.labels, probs, strict=True))
        score = float(by_label.get("positive", 0.0) - by_label.get("negative", 0.0))
        label = self.model.labels[int(np.argmax(probs))]
        return Sentiment(label=label, score=round(score, 4))

    def analyze_lower(self, text: str, hidden, mask) -> Sentiment:
        return self._from_probs(self.model.proba_from_lower(text, hidden, mask))

    def analyze_logits(self, text: str, logits: np.ndarray) -> Sentiment:
        return self._from_probs(self.model.proba_from_logits(text, logits))

    def predict(self, texts: list[str]) -> list[str]:
        probs = self.model.predict_proba(texts)
        return [self.model.labels[i] for i in probs.argmax(1)]

    @classmethod
    def load(cls, folder: Path, encoder: Encoder) -> TrainedSentiment:
        return cls(TextClassifier.load(folder, encoder))


def normalise_sentiment_labels(labels: Sequence[str], source: str = "") -> list[str]:
    """Lower-case labels and check they are negative/neutral/positive."""
    out = [label.strip().lower() for label in labels]
    unknown = sorted(set(out) - set(SENTIMENT_LABELS))
    if unknown:
        where = f"{source}: " if source else ""
        raise ValueError(f"{where}sentiment labels must be {', '.join(SENTIMENT_LABELS)}; found {unknown[:5]}")
    return out


def sentiment_trajectory(sentiments: Sequence[Sentiment | str | None]) -> list[float]:
    """The conversation's customer sentiment as a series of signed scores in [-1, 1], oldest first.

    Bare labels count as -1 / 0 / +1; missing values are skipped.
    """
    series: list[float] = []
    for item in sentiments:
        if item is None:
            continue
        if isinstance(item, str):
            series.append({"negative": -1.0, "neutral": 0.0, "positive": 1.0}[item])
        else:
            series.append(float(item.score))
    return series
