"""The promotion gate's decision rules (the end-to-end rejection of a shuffled-answer adapter is in test_pipeline)."""

from __future__ import annotations

from finetune.gate import Margins, decide

BASE = {"val_loss": 2.0, "ranking_accuracy": 0.6, "ranking_margin": 0.4, "rouge_l": 0.2, "embedding_cosine": 0.5,
        "key_fact_retention": 0.1}


def test_promotes_when_every_margin_is_met() -> None:
    adapter = {"val_loss": 1.5, "ranking_accuracy": 0.7, "ranking_margin": 0.9, "rouge_l": 0.3,
               "embedding_cosine": 0.4, "key_fact_retention": 0.2}
    decision = decide(BASE, adapter, Margins())
    assert decision.promoted and not decision.reasons
    assert [c.metric for c in decision.checks] == ["val_loss", "ranking_accuracy", "ranking_margin", "rouge_l",
                                                  "key_fact_retention"]


def test_rejects_with_a_reason_per_failed_check() -> None:
    adapter = {**BASE, "val_loss": 1.95, "ranking_accuracy": 0.3}
    decision = decide(BASE, adapter, Margins())
    assert not decision.promoted
    assert len(decision.reasons) == 2
    assert decision.reasons[0].startswith("val_loss: base 2.0000, adapter 1.9500; required <= 1.9000")
    assert decision.reasons[1].startswith("ranking_accuracy")
    assert decide(BASE, adapter, Margins(min_loss_reduction=0.02, min_ranking_gain=None)).promoted


def test_margins_can_demand_gains() -> None:
    adapter = {**BASE, "val_loss": 1.0, "rouge_l": 0.22}
    assert not decide(BASE, adapter, Margins(min_rouge_gain=0.05)).promoted
    assert decide(BASE, adapter, Margins(min_rouge_gain=0.01)).promoted


def test_a_lucky_accuracy_gain_with_a_falling_margin_is_rejected() -> None:
    # The shape of a shuffled-pairs adapter on a small set: loss down, accuracy up one row, margin down.
    adapter = {**BASE, "val_loss": 1.0, "ranking_accuracy": 0.7, "ranking_margin": 0.1}
    decision = decide(BASE, adapter, Margins())
    assert not decision.promoted
    assert [r.split(":")[0] for r in decision.reasons] == ["ranking_margin"]
    assert decide(BASE, adapter, Margins(min_margin_gain=None)).promoted
