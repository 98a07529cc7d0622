"""Sentiment per message (negative / neutral / positive with a signed score) and per conversation (trajectory).

The shipped default is a small head (one hidden layer) over the MiniLM sentence embedding and the
VADER lexicon's four scores, stored in sentiment_head.npz. `python bench/sentiment_head.py` trains
it from data whose licences allow shipping the weights: plain requests from CLINC150 and BANKING77,
sentences of library docstrings and of the sample help centre (neutral; CLINC150's thank-you
messages positive) and VADER's human-rated tweets and review snippets (MIT). A message reads
negative only when it holds a word of VADER's negative lexicon: the embedding alone would read an
unfamiliar topic (a question about Docker on a course help centre) as a complaint. Its negative bias
is set so that few plain requests read as negative, because negative messages hand a conversation to
a person. `assistant train sentiment` replaces the default with a TextClassifier trained on a site's
own labelled messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assistant.engine.events import Sentiment
from assistant.engine.understanding.classifier import TextClassifier
from assistant.engine.understanding.encoder import Encoder

SENTIMENT_LABELS = ("negative", "neutral", "positive")
DEFAULT_HEAD = Path(__file__).with_name("sentiment_head.npz")


def sentiment_features(texts: Sequence[str], embeddings: np.ndarray, vader: SentimentIntensityAnalyzer) -> np.ndarray:
    """The head's input: the L2-normalised embedding, then VADER's neg, neu, pos and compound scores."""
    embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
    lexicon = np.array([[s["neg"], s["neu"], s["pos"], s["compound"]] for s in map(vader.polarity_scores, texts)],
                       dtype=np.float32).reshape(len(texts), 4)
    return np.hstack([unit, lexicon])


class DefaultSentiment:
    """The shipped head: embedding + lexicon features -> one ReLU layer -> softmax over the three labels."""

    name = "default"
    needs_layers = None  # full base stack (the final mean-pooled embedding)

    def __init__(self, encoder: Encoder, head: Path = DEFAULT_HEAD) -> None:
        try:
            with np.load(head) as stored:
                weights = {key: stored[key] for key in ("w1", "b1", "w2", "b2", "labels", "meta")}
        except (OSError, KeyError, ValueError) as exc:
            raise RuntimeError(f"the default sentiment head {head} cannot be loaded ({exc}); reinstall the "
                               "package or rebuild it with `python bench/sentiment_head.py`") from exc
        self.labels = [str(label) for label in weights["labels"]]
        if sorted(self.labels) != sorted(SENTIMENT_LABELS) or weights["w1"].shape[0] != encoder.dim + 4:
            raise RuntimeError(f"the default sentiment head {head} does not fit this encoder "
                               f"({weights['w1'].shape[0]} inputs for a {encoder.dim}-dimensional embedding)")
        self.w1, self.b1, self.w2, self.b2 = (weights[key].astype(np.float32) for key in ("w1", "b1", "w2", "b2"))
        self.meta = json.loads(str(weights["meta"]))
        self.vader = SentimentIntensityAnalyzer()

    def proba(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        features = sentiment_features(texts, embeddings, self.vader)
        hidden = np.maximum(features @ self.w1 + self.b1, 0.0)
        logits = hidden @ self.w2 + self.b2
        # no negative word, no negative reading: the topic alone must not make a complaint
        logits[features[:, -4] <= 0, self.labels.index("negative")] = -np.inf
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def _sentiment(self, probs: np.ndarray) -> Sentiment:
        by_label = dict(zip(self.labels, probs.tolist(), strict=True))
        score = by_label["positive"] - by_label["negative"]
        return Sentiment(label=self.labels[int(np.argmax(probs))], score=round(float(score), 4))

    def analyze(self, text: str, embedding: np.ndarray) -> Sentiment:
        return self._sentiment(self.proba([text], embedding)[0])

    def predict(self, encoder: Encoder, texts: list[str]) -> list[str]:
        probs = self.proba(texts, encoder.embed(texts))
        return [self.labels[i] for i in probs.argmax(1)]


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
