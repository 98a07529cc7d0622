"""TfidfScorer gives the fitted pipeline's own probabilities, without sklearn's per-call overhead."""

from __future__ import annotations

import numpy as np

from assistant.engine.understanding.classifier import _tfidf
from assistant.engine.understanding.dataset import load_labelled_csv
from assistant.engine.understanding.tfidf_scorer import TfidfScorer
from assistant.engine.understanding.understanding import SAMPLE_INTENTS


def test_scores_equal_the_pipeline_in_label_order() -> None:
    data = load_labelled_csv(SAMPLE_INTENTS)
    pipeline = _tfidf(10.0).fit(data.texts, data.labels)
    labels = sorted(set(data.labels), reverse=True)  # an order different from classes_
    scorer = TfidfScorer(pipeline, labels)
    assert scorer.fields is not None
    order = [list(pipeline.classes_).index(label) for label in labels]
    for text in [*data.texts[::5], "", "zzzz qqqq", "ORDER #NW-1 where?!", "我的订单在哪里"]:
        np.testing.assert_allclose(scorer.proba(text), pipeline.predict_proba([text])[0][order], atol=1e-9)


def test_binary_models_fall_back_to_the_pipeline() -> None:
    texts = ["great thanks", "love it", "very happy", "awful", "terrible service", "so angry"]
    labels = ["positive"] * 3 + ["negative"] * 3
    pipeline = _tfidf(1.0).fit(texts, labels)
    scorer = TfidfScorer(pipeline, ["negative", "positive"])
    assert scorer.fields is None
    np.testing.assert_allclose(scorer.proba("happy"), pipeline.predict_proba(["happy"])[0], atol=1e-12)
