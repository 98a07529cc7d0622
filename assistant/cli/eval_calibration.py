"""The abstention threshold sweep behind `assistant eval answers --calibrate`.

Each query's top retrieval score is recorded once; the sweep replays the answer/abstain decision at every
threshold between the observed scores (no re-run) and recommends one for understanding.min_retrieval_score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SETTING = "understanding.min_retrieval_score"
SETTING_ENV = "ASSISTANT_UNDERSTANDING__MIN_RETRIEVAL_SCORE"
MIN_ANSWERED = 0.90  # the floor on answered_rate that the recommended threshold must keep
KB_ROUTES = ("generate", "extractive", "faq")  # answered from the knowledge base: they cite what they found


def replay(outcomes: list[Any], threshold: float) -> dict[str, float]:
    """The three rates had the threshold been `threshold`; turns that never reached retrieval keep their route.

    A query the threshold newly lets through is assumed to cite its top hit (what the fake backend and
    the facade's fallback answer cite); one that stays answered keeps the source it really cited.
    """
    answered, hits, abstained = [], [], []
    for o in outcomes:
        if o.top_score is None:
            ok, hit = o.answered, o.hit
        else:
            ok = o.top_score >= threshold
            hit = ok and (o.hit if o.route in KB_ROUTES else o.top_relevant)
        if o.answerable:
            answered.append(ok)
            hits.append(hit)
        else:
            abstained.append(not ok)
    return {"threshold": round(threshold, 4), "answered_rate": float(np.mean(answered)),
            "abstain_or_handoff_rate_unanswerable": float(np.mean(abstained)),
            "source_hit_at_1": float(np.mean(hits))}


def calibrate(outcomes: list[Any], current: float) -> dict[str, Any]:
    """Sweep thresholds between the observed top scores; pick the most abstaining one that answers >= 90%."""
    scores = sorted({o.top_score for o in outcomes if o.top_score is not None})
    # midpoints keep the recommendation away from any one observed score
    candidates = [0.0, *((a + b) / 2 for a, b in zip(scores, scores[1:], strict=False))]
    if scores:
        candidates.append(min(1.0, scores[-1] + 1e-3))
    sweep = [replay(outcomes, t) for t in candidates]
    feasible = [s for s in sweep if s["answered_rate"] >= MIN_ANSWERED]
    best = max(feasible or sweep, key=lambda s: (s["abstain_or_handoff_rate_unanswerable"], s["answered_rate"])
               if feasible else (s["answered_rate"], s["abstain_or_handoff_rate_unanswerable"]))

    def f_score(s: dict[str, float]) -> float:
        a, b = s["answered_rate"], s["abstain_or_handoff_rate_unanswerable"]
        return 2 * a * b / (a + b) if a + b else 0.0

    f_best = max(sweep, key=f_score)
    return {
        "setting": SETTING, "env": SETTING_ENV, "current_threshold": current,
        "at_current": replay(outcomes, current),
        "recommended_threshold": best["threshold"], "recommended": best,
        "constraint": f"answered_rate >= {MIN_ANSWERED}", "constraint_met": bool(feasible),
        "f_best_threshold": f_best["threshold"], "f_best": {**f_best, "f": round(f_score(f_best), 4)},
        "sweep": sweep,
    }


