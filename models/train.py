"""Train the flight-risk model on point-in-time snapshots and describe it in a card.

Candidates compete on a time-ordered split (fit on earlier snapshots, validate
on the latest ones), as the model will be used: on people's future. The winner
is calibrated, measured on the validation window, then refit on every
labelled snapshot. The card records what was used, what was left out and why,
and how well it ranks and calibrates.
"""

from __future__ import annotations

import math
import platform
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from core.errors import ModelError
from models.calibration import fit_calibrated, predict_risk
from models.checks import DataWarning, data_warnings
from models.columns import protected_columns
from models.cores import Meter, run_each
from models.dataset import FEATURES, TrainingSet, group_columns, model_input
from models.drivers import MONOTONIC
from models.features import Features
from models.metrics import calibration_table, evaluate, group_rates
from models.progress import Counter, Progress
from models.rules import RuleWeights, rules_score
from models.selection import SELECTION_MAX_ROWS, Choice, choose, stratified_subsample

GROUPING = (
    "by person: validation people never appear in the training part of a window, and calibration folds keep"
    " each person's snapshots together"
)
# Sigmoid keeps every difference in risk (isotonic's steps would flatten small
# ones to zero), and drivers are differences in risk.
CALIBRATION = "sigmoid"

# Distinct validation leavers wanted before the time-split stops rotating through
# person buckets: with ~30 leavers (one bucket of a 1,000-person org) a window's
# ROC-AUC swings by +-0.05, which picks candidates by luck.
MIN_VALIDATION_LEAVERS = 200


@dataclass(frozen=True)
class TrainOptions:
    min_leavers: int = 20
    validation_share: float = 0.25
    min_validation_leavers: int = MIN_VALIDATION_LEAVERS
    threshold: float = 0.15
    min_group_size: int = 5
    protected_extra: Sequence[str] = ()
    allow_protected: bool = False
    # The rules score the model must beat on the same validation rows to be used.
    rule_weights: RuleWeights = field(default_factory=RuleWeights)
    random_state: int = 0
    # Worker processes for the candidates' and calibration fits (-1: every core); one thread each.
    n_jobs: int = 1
    # Selection starts no further candidate after this many seconds (None: no limit).
    time_budget_seconds: float | None = None


@dataclass
class Trained:
    estimator: Any
    card: dict[str, Any] = field(default_factory=dict)
    # The validation rows (positions in the training set) and the validated model's predictions for them.
    validation: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.zeros(0, int), np.zeros(0)))


def person_bucket(employee_id: pd.Series, buckets: int) -> np.ndarray:
    """A stable bucket per person (not per row), independent of the row order."""
    digest = pd.util.hash_pandas_object(employee_id.astype(str), index=False).to_numpy()
    return (digest % np.uint64(buckets)).astype(np.int64)


def time_splits(
    frame: pd.DataFrame, y: np.ndarray, share: float, *, min_leavers: int = MIN_VALIDATION_LEAVERS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train on earlier snapshots of most people, validate on later snapshots of the others.

    Time order alone is not enough: consecutive monthly snapshots of one person
    share their label (the same exit falls in several horizons), so a flexible
    model can recognise the person instead of the pattern. Validation people
    therefore never appear in training. People fall into `round(1 / share)`
    stable buckets; bucket after bucket takes its turn as the validation
    people until the validation windows hold `min_leavers` distinct leavers
    (or every bucket had its turn), so a small org is judged on all its people
    and a large one pays for one split.
    """
    dates = np.sort(frame["as_of"].unique())
    if len(dates) < 2:
        raise ModelError(
            "a time-ordered validation needs at least two labelled monthly snapshots; the data covers"
            f" {len(dates)} (more history is needed)"
        )
    n_val = min(len(dates) - 1, max(1, math.ceil(len(dates) * share)))
    cut = dates[-n_val]
    later = frame["as_of"].to_numpy() >= cut
    buckets = max(2, round(1 / share))
    bucket = person_bucket(frame["employee_id"], buckets)
    people = frame["employee_id"].astype(str).to_numpy()
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    leavers: set[str] = set()
    for k in range(buckets):
        held_out = bucket == k
        train_idx, val_idx = np.flatnonzero(~later & ~held_out), np.flatnonzero(later & held_out)
        if y[train_idx].sum() == 0 or y[val_idx].sum() == 0:
            continue
        splits.append((train_idx, val_idx))
        leavers.update(people[val_idx][y[val_idx] == 1])
        if len(leavers) >= min_leavers:
            break
    if not splits:
        raise ModelError("the training or validation window has no voluntary leavers; more history is needed")
    return splits


def train(data: TrainingSet, options: TrainOptions, *, progress: Progress | None = None) -> Trained:
    """Choose on time-ordered windows, validate the calibrated choice on them, refit on every labelled snapshot.

    `progress` hears of each finished piece: candidate i of n in validation
    window k of K, then each calibrated fit.
    """
    meter = Meter()
    y = data.labels
    if data.positives < options.min_leavers:
        raise ModelError(
            f"only {data.positives} voluntary leavers in the labelled snapshots ({options.min_leavers} needed,"
            " [model] min_leavers); the transparent rules score stays in use"
        )
    X = model_input(data.frame, data.features)
    warnings = data_warnings(X, y, grouped=True)  # time_splits and calibration folds group by person
    excluded = [] if options.allow_protected else protected_columns(X.columns, extra=options.protected_extra)
    splits = time_splits(data.frame, y, options.validation_share, min_leavers=options.min_validation_leavers)
    counter = Counter(progress, len(splits) + 1)
    choice = choose(
        X,
        y,
        splits,
        exclude=excluded,
        monotonic=MONOTONIC,
        random_state=options.random_state,
        n_jobs=options.n_jobs,
        budget_seconds=options.time_budget_seconds,
        counter=counter,
        fold_word="validation window",
    )
    people = data.frame["employee_id"].astype(str).to_numpy()
    fit = partial(
        fit_calibrated,
        choice.selected,
        exclude=excluded,
        method=CALIBRATION,
        monotonic=MONOTONIC,
        random_state=options.random_state,
    )
    # The same subsample selection fitted on: above the cap more rows cost minutes, not accuracy.
    fit_rows = [
        train_idx[stratified_subsample(y[train_idx], SELECTION_MAX_ROWS, random_state=options.random_state)]
        for train_idx, _ in splits
    ]
    # The model that is saved (every labelled snapshot) first: the largest fit, so nothing waits on it at the end.
    tasks = [partial(fit, X, y, groups=people)]
    tasks += [partial(fit, X.iloc[rows], y[rows], groups=people[rows]) for rows in fit_rows]
    models: dict[int, Any] = {}
    for index, model in run_each(tasks, n_jobs=options.n_jobs):
        models[index] = model
        what = "on all labelled snapshots" if index == 0 else f"for validation window {index} of {len(splits)}"
        counter.advance(f"calibrated {choice.selected} {what}")
    val_idx = np.concatenate([v for _, v in splits])
    p_val = np.concatenate([predict_risk(models[k + 1], X.iloc[v]) for k, (_, v) in enumerate(splits)])
    val_frame = data.frame.iloc[val_idx]
    card = _card(data, options, choice, excluded, y[val_idx], p_val, val_frame, warnings)
    card["validation"]["windows"] = len(splits)
    card["validation"]["people"] = int(val_frame["employee_id"].nunique())
    card["validation"]["rows_fitted_per_window"] = max(
        min(len(t), SELECTION_MAX_ROWS) for t, _ in splits
    )
    card["validation"]["rules_roc_auc"] = round(rules_auc(val_frame, y[val_idx], options.rule_weights), 4)
    card["training_time"] = meter.seconds()
    return Trained(estimator=models[0], card=card, validation=(val_idx, p_val))


def rules_auc(frame: pd.DataFrame, y: np.ndarray, weights: RuleWeights) -> float:
    """The transparent rules score on the same validation rows: the bar a model must clear."""
    features = Features(as_of=datetime.min, columns={name: frame[name].to_numpy() for name in frame.columns})
    return float(roc_auc_score(y, rules_score(features, weights).risk))


def _card(
    data: TrainingSet,
    options: TrainOptions,
    choice: Choice,
    excluded: list[str],
    y_val: np.ndarray,
    p_val: np.ndarray,
    val_frame: pd.DataFrame,
    warnings: list[DataWarning],
) -> dict[str, Any]:
    flagged = p_val >= options.threshold
    extras = [f for f in data.features if f not in FEATURES]
    groups = {
        column: group_rates(val_frame[column].astype(str).to_numpy(), y_val, flagged, min_group_size=options.min_group_size)
        for column in group_columns(val_frame, extras)
    }
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "version": f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        "trained_at": now.isoformat(),
        "method": "model",
        "estimator": choice.selected,
        "candidates": {name: round(score, 4) for name, score in choice.scores.items()},
        "selection": "highest mean ROC-AUC on the time-ordered validation windows (people held out of training)",
        "grouped": GROUPING,
        "time_budget": {
            "seconds": options.time_budget_seconds,
            "reached": bool(choice.not_tried),
            "not_tried": list(choice.not_tried),
            "note": choice.budget_note(),
        },
        "warnings": [w.as_dict() for w in warnings],
        "calibration": "sigmoid (CalibratedClassifierCV, 3 folds grouped by person, one refit model)",
        "horizon_days": data.horizon_days,
        "data_window": {"start": f"{data.data_start:%Y-%m-%d}", "end": f"{data.data_end:%Y-%m-%d}"},
        "snapshots": [f"{s:%Y-%m-%d}" for s in data.snapshots],
        "censored_snapshots": [f"{s:%Y-%m-%d}" for s in data.censored],
        "rows": len(data.frame),
        "leavers": data.positives,
        "leaver_rate": round(data.positives / max(len(data.frame), 1), 4),
        "validation": {
            "rows": len(y_val),
            "from": f"{pd.Timestamp(val_frame['as_of'].min()):%Y-%m-%d}",
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in evaluate(y_val, p_val).items()},
            "calibration_table": calibration_table(y_val, p_val),
            "threshold": options.threshold,
            "flag_rate": round(float((p_val >= options.threshold).mean()), 4),
            "groups": groups,
            "min_group_size": options.min_group_size,
        },
        "features": list(data.features),
        "features_used": [f for f in data.features if f not in excluded],
        "protected_excluded": excluded,
        "libraries": _versions(),
    }


def _versions() -> dict[str, str]:
    names = ("scikit-learn", "skops", "numpy", "pandas", "duckdb")
    found = {name: metadata.version(name) for name in names}
    found["python"] = platform.python_version()
    return found
