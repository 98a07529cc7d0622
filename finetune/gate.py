"""The promotion gate: an adapter is registered only if it beats the base model by the configured margins.

Every check compares adapter and base on the same validation rows. A margin of None disables a check.
The decision lists each check with both values, so a rejection says exactly why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Margins:
    """Required improvements over the base model (adapter minus base, except the loss, which is relative)."""

    min_loss_reduction: float | None = 0.05  # val loss must fall by at least 5% of the base loss
    min_ranking_gain: float | None = 0.0  # answer-ranking accuracy must not fall
    min_margin_gain: float | None = 0.0  # ranking margin (nats/token) must not fall: catches shuffled pairs
    min_rouge_gain: float | None = 0.0  # ROUGE-L F1 must not fall
    min_cosine_gain: float | None = None  # embedding cosine (off by default: it saturates near 0.7-0.9)
    min_facts_gain: float | None = 0.0  # key-fact retention rate must not fall


@dataclass
class Check:
    metric: str
    base: float
    adapter: float
    required: str
    passed: bool


@dataclass
class Decision:
    promoted: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [f"{c.metric}: base {c.base:.4f}, adapter {c.adapter:.4f}; required {c.required}"
                for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "reasons": self.reasons, "checks": [asdict(c) for c in self.checks]}


def decide(base: dict[str, float], adapter: dict[str, float], margins: Margins) -> Decision:
    checks: list[Check] = []
    if margins.min_loss_reduction is not None:
        limit = base["val_loss"] * (1 - margins.min_loss_reduction)
        checks.append(Check("val_loss", base["val_loss"], adapter["val_loss"],
                            f"<= {limit:.4f} ({margins.min_loss_reduction:.0%} below base)",
                            adapter["val_loss"] <= limit))
    for metric, margin in (("ranking_accuracy", margins.min_ranking_gain),
                           ("ranking_margin", margins.min_margin_gain), ("rouge_l", margins.min_rouge_gain),
                           ("embedding_cosine", margins.min_cosine_gain), ("key_fact_retention", margins.min_facts_gain)):
        if margin is None or metric not in base or metric not in adapter:
            continue
        limit = base[metric] + margin
        checks.append(Check(metric, base[metric], adapter[metric], f">= {limit:.4f} (base {margin:+.2f})",
                            adapter[metric] >= limit - 1e-12))
    return Decision(all(c.passed for c in checks), checks)
