"""The transparent rules score: how far each actionable signal is from healthy.

Used before a model is trained (cold start) and as the fallback. Each signal's
gap runs from 0 (healthy) to 1 (as bad as we measure); the score is their
weighted mean. The gaps double as drivers: restoring a signal to healthy lowers
the score by exactly its weighted share, so nudges can be ranked by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.features import Features
from models.score import Scores

SIGNALS: tuple[str, ...] = ("recognition", "one_on_ones", "career", "autonomy")

# Healthy and worst levels, in the signal's own unit. Plain constants so the
# HR summary and the model card can quote them.
RECOGNITION_HEALTHY_DAYS = 30
RECOGNITION_WORST_DAYS = 120
ONE_ON_ONES_HEALTHY_HELD_90D = 4
CAREER_HEALTHY_DAYS = 90
CAREER_WORST_DAYS = 270
AUTONOMY_HEALTHY = 3.5
AUTONOMY_WORST = 1.5


@dataclass(frozen=True)
class RuleWeights:
    recognition: float = 1.0
    one_on_ones: float = 1.0
    career: float = 1.0
    autonomy: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {s: float(getattr(self, s)) for s in SIGNALS}


def _ramp(values: np.ndarray, healthy: float, worst: float) -> np.ndarray:
    gap = (values - healthy) / (worst - healthy)
    return np.clip(np.nan_to_num(gap, nan=0.0), 0.0, 1.0)


def signal_gaps(features: Features) -> dict[str, np.ndarray]:
    """Each actionable signal's distance from healthy, 0..1 (unknown counts as healthy)."""
    held = features.numeric("one_on_ones_held_90d")
    missed = features.numeric("one_on_ones_missed_last4")
    last4 = features.numeric("one_on_ones_last4")
    lapse = np.clip(1.0 - held / ONE_ON_ONES_HEALTHY_HELD_90D, 0.0, 1.0)
    cancelled = np.where(last4 > 0, missed / np.maximum(last4, 1.0), 0.0)
    return {
        "recognition": _ramp(features.numeric("days_since_recognition"), RECOGNITION_HEALTHY_DAYS, RECOGNITION_WORST_DAYS),
        "one_on_ones": np.maximum(lapse, cancelled),
        "career": _ramp(features.numeric("days_since_career_talk"), CAREER_HEALTHY_DAYS, CAREER_WORST_DAYS),
        # Lower autonomy is worse, so the ramp runs downwards.
        "autonomy": _ramp(-features.numeric("autonomy_latest"), -AUTONOMY_HEALTHY, -AUTONOMY_WORST),
    }


def rules_score(features: Features, weights: RuleWeights, *, note: str = "") -> Scores:
    gaps = signal_gaps(features)
    w = weights.as_dict()
    total = sum(w.values())
    if total <= 0:
        raise ValueError("at least one rules weight must be positive")
    drivers = {s: gaps[s] * (w[s] / total) for s in SIGNALS}
    risk = np.sum(np.vstack([drivers[s] for s in SIGNALS]), axis=0) if len(features) else np.zeros(0)
    return Scores(employee_id=features["employee_id"], risk=risk, drivers=drivers, method="rules", note=note)
