"""Intent model with the real MiniLM: probabilities, out-of-scope detection, save/load, holdout split."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.engine.understanding.dataset import LabelledData
from assistant.engine.understanding.intent_model import IntentModel, first_examples, stratified_holdout


def test_first_examples_per_intent_in_file_order_without_out_of_scope():
    texts = [f"t{i}" for i in range(9)]
    labels = ["a", "oos", "b", "a", "a", "b", "oos", "a", "c"]
    examples = first_examples(LabelledData(texts, labels, "x.csv"), "oos", limit=3)
    assert examples == {"a": ["t0", "t3", "t4"], "b": ["t2", "t5"], "c": ["t8"]}


def test_stratified_holdout_keeps_every_label_in_training():
    labels = ["a"] * 20 + ["b"] * 2 + ["oos"] * 10
    train, held = stratified_holdout(labels, 0.1, boost={"oos": 0.3})
    assert set(train).isdisjoint(held) and len(train) + len(held) == len(labels)
    held_labels = [labels[i] for i in held]
    assert held_labels.count("a") == 2 and held_labels.count("oos") == 3
    assert {labels[i] for i in train} == {"a", "b", "oos"}


@pytest.mark.slow
def test_top_k_probabilities_and_obvious_cases(sample_model_dir, encoder):
    model = IntentModel.load(sample_model_dir / "intent-model", encoder)
    assert "oos" not in model.labels and "track_order" in model.labels
    for text in ["where is my order NW-12345?", "what is the capital of Peru", "hello"]:
        logits = model.classifier.logits_one(text)
        probs = model.classifier.proba_from_logits(text, logits)
        assert probs.min() >= 0 and probs.sum() == pytest.approx(1.0, abs=1e-6)
        prediction = model.decide(probs, logits, top_k=3)
        assert model.classify_one(text, top_k=3) == prediction
        assert len(prediction.top) == 3
        assert sum(p for _, p in prediction.top) <= 1.0 + 1e-9
        assert [p for _, p in prediction.top] == sorted((p for _, p in prediction.top), reverse=True)
    assert model.predict(["can you track my order NW-12345 for me", "I want to speak to a human agent"]) == [
        "track_order", "human_agent"]


@pytest.mark.slow
def test_out_of_scope_on_obvious_cases(sample_model_dir, encoder):
    model = IntentModel.load(sample_model_dir / "intent-model", encoder)
    off_topic = ["who won the football world cup in 2010?", "what is the square root of 144",
                 "recommend me a good pizza recipe", "what's the capital city of Australia"]
    predictions = model.predict(off_topic)
    assert predictions.count("oos") >= 3, predictions


@pytest.mark.slow
def test_save_load_round_trip_gives_same_probabilities(sample_model_dir, encoder, tmp_path):
    model = IntentModel.load(sample_model_dir / "intent-model", encoder)
    model.save(tmp_path / "copy")
    again = IntentModel.load(tmp_path / "copy", encoder)
    texts = ["can I pay with paypal", "my jacket arrived with a broken zip"]
    assert np.allclose(model.predict_proba(texts), again.predict_proba(texts))
    assert again.threshold == model.threshold and again.oos_score == model.oos_score == "max_logit"
    # the folder keeps each intent's first training messages for the answer policy (IntentPages)
    assert again.examples == model.examples and "oos" not in again.examples
    assert set(again.examples) == set(model.labels) and all(0 < len(v) <= 32 for v in again.examples.values())
    assert again.examples["track_order"][:2] == ["where is my order", "Where is my parcel? I ordered last Tuesday"]
    assert not list(tmp_path.glob("copy.tmp*"))


@pytest.mark.slow
def test_a_model_saved_before_max_logit_keeps_its_probability_threshold(sample_model_dir, encoder, tmp_path):
    import json

    model = IntentModel.load(sample_model_dir / "intent-model", encoder)
    text = "where is my order NW-12345?"
    logits = model.classifier.logits_one(text)
    probs = model.classifier.proba_from_logits(text, logits)
    top = float(probs[[i for i, name in enumerate(model.classifier.labels) if name != "oos"]].max())
    model.save(tmp_path / "old")
    meta_path = tmp_path / "old" / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["oos_score"]
    meta["threshold"] = top / 2
    meta_path.write_text(json.dumps(meta))
    old = IntentModel.load(tmp_path / "old", encoder)
    assert old.oos_score == "probability"
    # the threshold applies to the probability: a flat probability row is rejected whatever the logits
    assert not old.decide(probs, logits).out_of_scope
    assert old.decide(np.full_like(probs, 1 / len(probs)), logits).out_of_scope


@pytest.mark.slow
def test_refit_trains_on_every_row_and_keeps_the_chosen_weight(encoder):
    from assistant.engine.understanding.classifier import TrainOptions
    from assistant.engine.understanding.dataset import LabelledData, load_labelled_csv
    from assistant.engine.understanding.understanding import SAMPLE_INTENTS

    samples = load_labelled_csv(SAMPLE_INTENTS)
    rows = [i for i, label in enumerate(samples.labels) if label != "oos"]
    data = LabelledData([samples.texts[i] for i in rows], [samples.labels[i] for i in rows])
    options = TrainOptions(epochs=1, progress=False)
    held_out = IntentModel.train(data, encoder, options)
    refit = IntentModel.train(data, encoder, options, refit=True)
    assert held_out.meta["n_train"] < len(data.texts) == refit.meta["n_train"]
    assert refit.meta["refit"] is True and "refit" not in held_out.meta
    assert refit.classifier.weight == held_out.classifier.weight  # chosen on the slice, before refitting
    assert not np.allclose(refit.predict_proba(data.texts[:5]), held_out.predict_proba(data.texts[:5]))
    # with an out-of-scope class the threshold chosen on the slice is kept
    with_oos_held = IntentModel.train(samples, encoder, options)
    with_oos = IntentModel.train(samples, encoder, options, refit=True)
    assert with_oos.meta["refit"] is True and with_oos.meta["n_train"] == len(samples.texts)
    assert with_oos.threshold == with_oos_held.threshold
    assert with_oos.oos_score == "max_logit" and with_oos.meta["calibration"]["score"] == "max_logit"
    # without oos examples there is nothing to calibrate on: the probability threshold 0 rejects nothing
    assert held_out.oos_score == "probability" and held_out.threshold == 0.0
