"""Shared fixtures: one real intent model trained (once per session) on the bundled sample intents."""

from __future__ import annotations

import pytest

from assistant.engine.understanding.understanding import SAMPLE_INTENTS


@pytest.fixture(scope="session")
def encoder():
    from assistant.engine.understanding.evaluation import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def sample_model_dir(tmp_path_factory, encoder):
    """data_dir with an intent model trained on the samples (1 epoch keeps the suite quick)."""
    if not SAMPLE_INTENTS.exists():
        pytest.skip("sample intents not written yet")
    from assistant.engine.understanding.understanding import train_intent_model

    data_dir = tmp_path_factory.mktemp("data")
    model = train_intent_model(encoder, SAMPLE_INTENTS, progress=False, epochs=1)
    model.save(data_dir / "intent-model")
    return data_dir
