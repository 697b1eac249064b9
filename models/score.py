"""Score a week: the trained model when it can be trusted, else the rules score, and say which.

Both produce the same `Scores`: risk per person and, per actionable signal, how
much restoring it would lower that risk, so nudge selection does not care
which one ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import ModelError
from models.calibration import predict_risk
from models.dataset import FEATURES, model_input, with_attributes
from models.drivers import Healthy, risk_and_drivers
from models.features import Features
from models.persist import LoadedModel, load


@dataclass(frozen=True)
class Scores:
    """Risk in [0, 1] per employee and each signal's contribution to it."""

    employee_id: np.ndarray
    risk: np.ndarray
    drivers: dict[str, np.ndarray]  # signal -> risk reduction if restored to healthy
    method: str  # "model" or "rules"
    note: str = ""  # why this method, for the run summary


@dataclass(frozen=True)
class ModelChoice:
    model: LoadedModel | None
    reason: str


def usable_model(
    folder: Path,
    *,
    enabled: bool,
    max_age_days: int,
    features: tuple[str, ...] = FEATURES,
    now: datetime | None = None,
) -> ModelChoice:
    """The trained model if it exists, loads safely, matches our features and is fresh enough."""
    if not enabled:
        return ModelChoice(None, "the model is switched off ([model] enabled = false)")
    try:
        loaded = load(folder, expected_features=features)
    except ModelError as exc:
        return ModelChoice(None, str(exc))
    validation = loaded.card.get("validation", {})
    model_auc, rules_auc = validation.get("roc_auc"), validation.get("rules_roc_auc")
    if model_auc is not None and rules_auc is not None and model_auc <= rules_auc:
        return ModelChoice(
            None,
            f"the trained model did not beat the rules score on its validation window"
            f" (ROC-AUC {model_auc:.3f} vs {rules_auc:.3f}); more history should help",
        )
    now = now or datetime.now(UTC)
    age = (now.replace(tzinfo=None) - loaded.trained_at.replace(tzinfo=None)).days
    if age > max_age_days:
        return ModelChoice(
            None, f"the model is {age} days old (limit {max_age_days}, [model] max_age_days); retrain it"
        )
    return ModelChoice(loaded, f"model {loaded.card.get('version', '?')} ({loaded.card.get('estimator', '?')})")


def model_scores(
    model: LoadedModel,
    features: Features,
    healthy: Healthy,
    *,
    attributes: pd.DataFrame | None = None,
    focus: np.ndarray | None = None,
    min_risk: float | None = None,
    note: str = "",
) -> Scores:
    """Risk for everyone; drivers for the `focus` rows (all when None) at or above `min_risk`."""
    frame = model_input(with_attributes(features.frame(), attributes), model.features)
    risk, drivers = risk_and_drivers(
        lambda batch: predict_risk(model.estimator, batch), frame, healthy, focus=focus, min_risk=min_risk
    )
    return Scores(employee_id=features["employee_id"], risk=risk, drivers=drivers, method="model", note=note)
