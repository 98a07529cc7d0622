"""The live ONNX graph gives the same classifications as the torch path, and follows intent-model swaps.

    pytest tests/assistant/engine/understanding/test_live_graph.py
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.engine.settings import Settings
from assistant.engine.understanding import Understanding
from assistant.engine.understanding import understanding as understanding_module
from assistant.engine.understanding.classifier import TextClassifier, TrainOptions
from assistant.engine.understanding.dataset import load_labelled_csv
from assistant.engine.understanding.sentiment import TrainedSentiment
from assistant.engine.understanding.understanding import SAMPLE_INTENTS

pytestmark = pytest.mark.slow

MESSAGES = [
    "Where is my order #NW-48213? It's been a while.",
    "This is ridiculous, the worst service ever, I'm furious!",
    "can I pay with paypal",
    "thanks, that was really helpful :)",
    "I want to talk to a real person",
    "qwertyuiop",
]


def _both(understanding: Understanding, texts: list[str]) -> tuple[list, list]:
    intents, live = understanding._current
    assert live is not None
    fast = [understanding.classify(t) for t in texts]
    understanding._current = (intents, None)
    slow = [understanding.classify(t) for t in texts]
    understanding._current = (intents, live)
    return fast, slow


def _assert_same(fast: list, slow: list) -> None:
    for a, b in zip(fast, slow, strict=True):
        assert (a.intent, a.out_of_scope, a.sentiment.label) == (b.intent, b.out_of_scope, b.sentiment.label)
        assert a.confidence == pytest.approx(b.confidence, abs=2e-4)
        assert a.sentiment.score == pytest.approx(b.sentiment.score, abs=2e-4)
        assert [i.intent for i in a.intents][:3] == [i.intent for i in b.intents][:3]


def test_live_graph_matches_torch_path(sample_model_dir) -> None:
    understanding = Understanding.from_settings(Settings(data_dir=sample_model_dir), progress=False)
    texts = MESSAGES + load_labelled_csv(SAMPLE_INTENTS).texts[::7]
    _assert_same(*_both(understanding, texts))


def test_trained_sentiment_runs_in_the_same_graph(sample_model_dir, encoder) -> None:
    understanding = Understanding.from_settings(Settings(data_dir=sample_model_dir), progress=False)
    texts = ["I love this, thank you so much", "great service, very happy", "brilliant, works perfectly",
             "this is awful and I am angry", "terrible, worst shop ever", "you ruined my order, furious",
             "what time do you open", "is the store open on sunday", "how do I change my address"] * 2
    labels = (["positive"] * 3 + ["negative"] * 3 + ["neutral"] * 3) * 2
    model = TextClassifier.fit(encoder, texts, labels, TrainOptions(epochs=1, progress=False))
    default_graph = understanding._current[1]
    understanding.sentiment = TrainedSentiment(model)
    # until the graph is rebuilt, the old graph's sentiment output is not used for the new model
    before_rebuild = understanding.classify(MESSAGES[1]).sentiment
    assert before_rebuild == understanding._classify_torch(MESSAGES[1], understanding.intents)[1]
    assert default_graph.sentiment_part is None
    understanding.intents = understanding.intents  # rebuilds the live graph with the trained sentiment
    assert understanding._current[1].sentiment_part is model.neural
    fast, slow = _both(understanding, MESSAGES)
    _assert_same(fast, slow)
    assert fast[1].sentiment.label == "negative"


def test_swapping_the_intent_model_swaps_the_graph(sample_model_dir, tmp_path) -> None:
    settings = Settings(data_dir=sample_model_dir, model_cache_dir=tmp_path / "cache")
    understanding = Understanding.from_settings(settings, progress=False)
    first = understanding._current[1]
    model = understanding.intents
    model.classifier.neural.head.bias.data += 0.5  # a different model: new weights, new digest
    understanding.intents = model
    assert understanding._current[1] is not first
    assert len(list((tmp_path / "cache" / "onnx").glob("live-*/model.onnx"))) == 2
    assert not list((tmp_path / "cache" / "onnx").glob(".export-*"))
    _assert_same(*_both(understanding, MESSAGES))


def test_torch_runtime_builds_no_graph(sample_model_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(understanding_module, "LIVE_RUNTIME", "torch")
    settings = Settings(data_dir=sample_model_dir, model_cache_dir=tmp_path / "cache")
    understanding = Understanding.from_settings(settings, progress=False)
    assert understanding._current[1] is None
    assert not (tmp_path / "cache" / "onnx").exists()
    assert np.isfinite(understanding.classify("hello").confidence)
