"""Understanding.from_settings with real models: loads the saved intent model, classifies, owns the templates."""

from __future__ import annotations

import pytest

from assistant.engine.settings import Settings
from assistant.engine.understanding import AnswerPolicy, ConversationState, Understanding


@pytest.mark.slow
def test_classify_and_template_route_end_to_end(sample_model_dir):
    settings = Settings(data_dir=sample_model_dir)
    understanding = Understanding.from_settings(settings, progress=False)
    result = understanding.classify("Where is my order #NW-48213? It's been a while.")
    assert result.intent == "track_order" and not result.out_of_scope
    assert 0 < result.confidence <= 1
    assert len(result.intents) == settings.understanding.top_k
    assert sum(i.probability for i in result.intents) <= 1.0 + 1e-6
    assert result.sentiment.label in ("negative", "neutral", "positive")
    policy = AnswerPolicy(settings.understanding, understanding.templates)
    decision = policy.before_retrieval("Where is my order #NW-48213?", result, ConversationState())
    if result.confidence >= understanding.templates.threshold("track_order"):
        assert decision.route == "template" and "#NW-48213" in decision.text
        assert decision.template_id == "track_order.with_order_id"
    angry = understanding.classify("This is ridiculous, the worst service ever, I'm furious!")
    assert angry.sentiment.label == "negative"
    handoff = policy.before_retrieval("still nothing!!", angry, ConversationState(sentiments=["negative"]))
    assert handoff.route == "handoff" and handoff.handoff.reason in ("negative_sentiment", "customer_request")


@pytest.mark.slow
def test_missing_configured_sentiment_folder_is_an_error(sample_model_dir, tmp_path):
    settings = Settings(data_dir=sample_model_dir,
                        understanding={"sentiment_model_dir": str(tmp_path / "missing")})
    with pytest.raises(FileNotFoundError, match="sentiment model folder not found"):
        Understanding.from_settings(settings, progress=False)
