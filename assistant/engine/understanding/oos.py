"""Out-of-scope threshold calibration on a held-out slice of the training data (never on a test file).

A message is out of scope when the classifier picks the `oos` class, or when its best in-scope
probability is below the threshold. The threshold maximises a prior-weighted accuracy
(1 - prior) * in-scope accuracy + prior * oos recall, while giving up at most `max_in_scope_loss`
of held-out in-scope accuracy: with few held-out oos examples an unconstrained optimum is noisy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OosCalibration:
    threshold: float
    in_scope_accuracy: float
    oos_recall: float | None
    n_in_scope: int
    n_oos: int


def in_scope_scores(probs: np.ndarray, oos_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(best in-scope class, its probability) per row."""
    masked = probs.copy()
    if oos_index is not None:
        masked[:, oos_index] = -1.0
    best = masked.argmax(1)
    return best, masked[np.arange(len(best)), best]


def calibrate_oos_threshold(probs: np.ndarray, gold: np.ndarray, oos_index: int | None,
                            prior: float = 0.2, max_in_scope_loss: float = 0.01) -> OosCalibration:
    """Pick the rejection threshold from held-out probabilities `probs` and gold class indices `gold`."""
    best, score = in_scope_scores(probs, oos_index)
    picks_oos = probs.argmax(1) == oos_index if oos_index is not None else np.zeros(len(best), bool)
    is_oos = gold == oos_index if oos_index is not None else np.zeros(len(gold), bool)
    n_in, n_oos = int((~is_oos).sum()), int(is_oos.sum())
    if n_in == 0:
        return OosCalibration(0.0, 0.0, None, 0, n_oos)
    correct_in = (~is_oos) & (best == gold) & ~picks_oos

    def rates(threshold: float) -> tuple[float, float | None]:
        accepted = score >= threshold
        in_acc = float((correct_in & accepted).sum()) / n_in
        recall = float((is_oos & (picks_oos | ~accepted)).sum()) / n_oos if n_oos else None
        return in_acc, recall

    base_acc, base_recall = rates(0.0)
    if n_oos == 0:
        return OosCalibration(0.0, base_acc, None, n_in, 0)
    candidates = np.unique(np.concatenate([[0.0], score[is_oos] + 1e-6]))
    best_threshold, best_value = 0.0, -1.0
    for threshold in candidates:
        in_acc, recall = rates(float(threshold))
        if base_acc - in_acc > max_in_scope_loss + 1e-12:
            continue
        value = (1 - prior) * in_acc + prior * recall
        if value > best_value + 1e-12:
            best_threshold, best_value = float(threshold), value
    in_acc, recall = rates(best_threshold)
    return OosCalibration(best_threshold, in_acc, recall, n_in, n_oos)
