"""Out-of-scope threshold calibration and the evaluation metrics, on small hand-made probability tables."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.engine.understanding.evaluation import classification_metrics
from assistant.engine.understanding.oos import best_in_scope_logit, calibrate_oos_threshold, in_scope_scores

# classes: 0 = a, 1 = b, 2 = oos
PROBS = np.array([
    [0.90, 0.05, 0.05],  # a, confident
    [0.80, 0.15, 0.05],  # a
    [0.10, 0.85, 0.05],  # b
    [0.30, 0.65, 0.05],  # b
    [0.40, 0.35, 0.25],  # oos example that looks like a (0.40)
    [0.20, 0.30, 0.50],  # oos example the oos class catches
    [0.45, 0.45, 0.10],  # oos example, in-scope best 0.45
])
GOLD = np.array([0, 0, 1, 1, 2, 2, 2])


def test_in_scope_scores_ignore_the_oos_column():
    best, score = in_scope_scores(PROBS, 2)
    assert best.tolist() == [0, 0, 1, 1, 0, 1, 0]
    assert score[5] == pytest.approx(0.30)


def test_threshold_catches_low_confidence_oos_without_losing_in_scope():
    calibration = calibrate_oos_threshold(PROBS, GOLD, 2, prior=0.5, max_in_scope_loss=0.0)
    assert 0.45 < calibration.threshold <= 0.65
    assert calibration.in_scope_accuracy == 1.0
    assert calibration.oos_recall == 1.0
    assert (calibration.n_in_scope, calibration.n_oos) == (4, 3)


def test_in_scope_loss_limit_is_respected():
    # catching everything would need a threshold above 0.65 and cost an in-scope example
    probs = PROBS.copy()
    probs[6] = [0.70, 0.20, 0.10]
    strict = calibrate_oos_threshold(probs, GOLD, 2, prior=0.9, max_in_scope_loss=0.0)
    assert strict.in_scope_accuracy == 1.0 and strict.oos_recall == pytest.approx(2 / 3)
    loose = calibrate_oos_threshold(probs, GOLD, 2, prior=0.9, max_in_scope_loss=0.3)
    assert loose.oos_recall == 1.0 and loose.in_scope_accuracy == 0.75


def test_a_logit_score_separates_what_saturated_probabilities_cannot():
    # oos rows 4 and 6 are far from every class (low logits) but nearer one than the rest, so the softmax
    # gives them more probability (~0.997) than in-scope row 1, which sits between two close classes (0.88)
    logits = np.array([
        [14.0, 2.0, 0.0], [13.0, 11.0, 0.0], [1.0, 15.0, 0.0], [2.0, 12.5, 0.0],
        [7.0, 0.5, 0.0], [1.0, 2.0, 9.0], [0.5, 6.5, 0.0],
    ])
    gold = np.array([0, 0, 1, 1, 2, 2, 2])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    by_prob = calibrate_oos_threshold(probs, gold, 2, prior=0.5, max_in_scope_loss=0.0)
    assert by_prob.oos_recall == pytest.approx(1 / 3)  # only the row the oos class catches
    score = best_in_scope_logit(logits, 2)
    assert score.tolist() == [14.0, 13.0, 15.0, 12.5, 7.0, 2.0, 6.5]
    by_logit = calibrate_oos_threshold(probs, gold, 2, prior=0.5, max_in_scope_loss=0.0, score=score)
    assert by_logit.oos_recall == 1.0 and by_logit.in_scope_accuracy == 1.0
    assert 7.0 < by_logit.threshold <= 12.5


def test_a_logit_score_without_oos_examples_rejects_nothing():
    logits = np.array([[-3.0, 1.0], [2.0, -5.0]])
    calibration = calibrate_oos_threshold(np.array([[0.1, 0.9], [0.9, 0.1]]), np.array([1, 0]), None,
                                          score=best_in_scope_logit(logits, None))
    assert calibration.threshold < 1.0 and calibration.in_scope_accuracy == 1.0


def test_without_oos_examples_nothing_is_rejected():
    calibration = calibrate_oos_threshold(PROBS[:4, :2], GOLD[:4], None)
    assert calibration.threshold == 0.0 and calibration.oos_recall is None


def test_metrics_with_oos_labels():
    gold = ["a", "a", "b", "oos", "oos"]
    predicted = ["a", "oos", "b", "oos", "a"]
    metrics = classification_metrics(gold, predicted, "oos")
    assert metrics["accuracy"] == 0.6
    assert metrics["in_scope_accuracy"] == pytest.approx(0.6667, abs=1e-4)
    assert metrics["oos_recall"] == 0.5
    assert metrics["oos_precision"] == 0.5
    assert "oos_recall" not in classification_metrics(["a", "b"], ["a", "a"], "oos")
