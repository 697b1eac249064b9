"""Benchmark the model selection on any flat table with a yes/no label, by nested cross-validation.

Backs `retention model benchmark FILE --label COL --positive VALUE`: the outer
folds only ever score; choosing a candidate and every encoding decision happen
inside each outer training part, so the reported numbers are what a model
chosen this way would score on people it has not seen. Beside it, three plain
baselines (one-hot + scaled logistic regression, default HistGradientBoosting,
RandomForest(300)) are scored on the same outer folds: the bar to keep up with.
With groups (e.g. a person id), a group's rows stay in one fold, outer and inner.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from core.errors import ModelError
from models.calibration import fit_calibrated
from models.candidates import ALL_CANDIDATES, BASELINES, build
from models.checks import data_warnings
from models.columns import plan_columns, protected_columns
from models.cores import Meter, run_each, workers
from models.metrics import evaluate
from models.progress import Counter, Progress
from models.selection import Split, choose_each

INNER_FOLDS = 3
REPORTED = ("roc_auc", "pr_auc", "brier", "lift_top_decile")


def _mean_metrics(rows: Sequence[Mapping[str, float | int]]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in REPORTED}


def most_often(selections: list[str]) -> str:
    """The name chosen in most folds; on a tie the simpler candidate."""
    counts = Tally(selections)
    return min(counts, key=lambda name: (-counts[name], ALL_CANDIDATES.index(name)))


def _folds(y: np.ndarray, groups: np.ndarray | None, n: int, *, random_state: int) -> list[Split]:
    """Stratified folds; with groups, stratified folds that never split a group."""
    if groups is None:
        return list(StratifiedKFold(n, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))
    return list(StratifiedGroupKFold(n, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y, groups))


def nested_folds(
    y: np.ndarray, groups: np.ndarray | None, folds: int, *, random_state: int = 0
) -> list[tuple[Split, list[Split]]]:
    """Each outer (train, test) split with its inner selection splits of the outer training rows (positions in `y`).

    With `groups`, every split outer and inner keeps a group's rows on one side.
    """
    nested = []
    for train_idx, test_idx in _folds(y, groups, folds, random_state=random_state):
        inner_groups = None if groups is None else groups[train_idx]
        inner = _folds(y[train_idx], inner_groups, INNER_FOLDS, random_state=random_state)
        nested.append(((train_idx, test_idx), [(train_idx[a], train_idx[b]) for a, b in inner]))
    return nested


def _check_shape(y: np.ndarray, groups: np.ndarray | None, folds: int) -> None:
    positives = int(y.sum())
    smallest = min(positives, len(y) - positives)
    if folds < 2:
        raise ModelError(f"--folds must be at least 2; got {folds}")
    if smallest < folds * INNER_FOLDS:
        raise ModelError(
            f"only {smallest} rows in the smaller class; {folds} outer x {INNER_FOLDS} inner folds need at least"
            f" {folds * INNER_FOLDS} (use fewer --folds)"
        )
    if groups is not None:
        if len(groups) != len(y):
            raise ModelError(f"groups has {len(groups)} values for {len(y)} rows; give one group per row")
        distinct = len(pd.unique(groups))
        if distinct < folds * INNER_FOLDS:
            raise ModelError(
                f"only {distinct} distinct groups; {folds} outer x {INNER_FOLDS} inner folds need at least"
                f" {folds * INNER_FOLDS} (use fewer --folds or a finer --group)"
            )


def _calibrated_fold(
    name: str,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    exclude: Sequence[str],
    groups: np.ndarray | None,
    random_state: int,
) -> dict[str, float | int]:
    """The chosen candidate, calibrated on the outer training part, scored on the outer test part."""
    model = fit_calibrated(name, X_train, y_train, exclude=exclude, groups=groups, random_state=random_state)
    return evaluate(y_test, model.predict_proba(X_test[model.feature_names_in_])[:, 1])


def _baseline_fold(
    name: str,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    exclude: Sequence[str],
    random_state: int,
) -> dict[str, float | int]:
    """A plain baseline fitted on the outer training part (same column plan), scored on the test part."""
    plan = plan_columns(X_train, exclude=exclude)
    features = plan.features()
    model = build(name, plan, rows=len(y_train), random_state=random_state)
    model.fit(X_train[features], y_train)
    return evaluate(y_test, model.predict_proba(X_test[features])[:, 1])


def run_benchmark(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    folds: int = 5,
    groups: np.ndarray | None = None,
    allow_protected: bool = False,
    random_state: int = 0,
    n_jobs: int = 1,
    budget_seconds: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Nested cross-validation of the whole recipe (exclude, encode, choose, calibrate) beside the baselines.

    Returns a JSON-able report. `groups` keeps each group's rows in one outer and
    one inner fold (and one calibration fold); `budget_seconds` stops starting
    new candidates once selection has run that long; `n_jobs` worker processes
    share the fits, each with one BLAS/OpenMP thread.
    """
    meter = Meter()
    y = np.asarray(y, dtype=np.int64)
    groups = None if groups is None else np.asarray(groups)
    _check_shape(y, groups, folds)
    excluded = [] if allow_protected else protected_columns(X.columns)
    warnings = data_warnings(X, y, grouped=groups is not None)
    nested = nested_folds(y, groups, folds, random_state=random_state)
    outer = [split for split, _ in nested]
    problems = [inner for _, inner in nested]
    counter = Counter(progress, folds * (1 + len(BASELINES)))
    choices = choose_each(
        X,
        y,
        problems,
        exclude=excluded,
        random_state=random_state,
        n_jobs=n_jobs,
        budget_seconds=budget_seconds,
        counter=counter,
    )

    parts = [(X.iloc[tr], y[tr], X.iloc[te], y[te]) for tr, te in outer]
    # Longest fits first (the baselines' 300-tree forest), so no process idles at the end waiting on one.
    jobs: list[tuple[str, int]] = [(name, k) for name in reversed(BASELINES) for k in range(folds)]
    jobs[folds:folds] = [("", k) for k in range(folds)]  # "" is the calibrated choice
    tasks = [
        partial(
            _calibrated_fold,
            choices[k].selected,
            *parts[k],
            exclude=excluded,
            groups=None if groups is None else groups[outer[k][0]],
            random_state=random_state,
        )
        if not name
        else partial(_baseline_fold, name, *parts[k], exclude=excluded, random_state=random_state)
        for name, k in jobs
    ]
    calibrated: dict[int, dict[str, float | int]] = {}
    baselines: dict[str, dict[int, dict[str, float | int]]] = {b: {} for b in BASELINES}
    for index, metrics in run_each(tasks, n_jobs=n_jobs):
        name, k = jobs[index]
        if not name:
            calibrated[k] = metrics
            counter.advance(f"calibrated {choices[k].selected}, fold {k + 1} of {folds}", fold=k + 1, folds=folds)
        else:
            baselines[name][k] = metrics
            counter.advance(f"baseline {name}, fold {k + 1} of {folds}", fold=k + 1, folds=folds)
    return _report(X, y, groups, folds, excluded, warnings, choices, calibrated, baselines, budget_seconds, n_jobs, meter)


def _report(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    folds: int,
    excluded: list[str],
    warnings: list[Any],
    choices: list[Any],
    calibrated: dict[int, dict[str, float | int]],
    baselines: dict[str, dict[int, dict[str, float | int]]],
    budget_seconds: float | None,
    n_jobs: int,
    meter: Meter,
) -> dict[str, Any]:
    selections = [c.selected for c in choices]
    fold_metrics = [calibrated[k] for k in range(folds)]
    baseline_means = {name: _mean_metrics([rows[k] for k in range(folds)]) for name, rows in baselines.items()}
    best = max(baseline_means, key=lambda name: baseline_means[name]["roc_auc"])
    roc_auc = float(np.mean([m["roc_auc"] for m in fold_metrics]))
    tried = list(choices[0].scores)
    plan = plan_columns(X, exclude=excluded)
    return {
        "selected": most_often(selections),
        **_mean_metrics(fold_metrics),
        "fold_roc_auc": [float(m["roc_auc"]) for m in fold_metrics],
        "baselines": baseline_means,
        "best_baseline": best,
        "vs_best_baseline": round(roc_auc - baseline_means[best]["roc_auc"], 4),
        "candidates": {
            name: {
                "inner_roc_auc": float(np.mean([c.scores[name] for c in choices])),
                "selected_in_folds": selections.count(name),
            }
            for name in tried
        },
        "selections": selections,
        "inner_scores": [c.scores for c in choices],
        "time_budget": {
            "seconds": budget_seconds,
            "reached": bool(choices[0].not_tried),
            "not_tried": list(choices[0].not_tried),
        },
        "warnings": [w.as_dict() for w in warnings],
        "folds": folds,
        "grouped": groups is not None,
        "groups": None if groups is None else len(pd.unique(groups)),
        "rows": len(y),
        "positives": int(y.sum()),
        "protected_excluded": excluded,
        "dropped": {c: why for c, why in plan.dropped.items() if why != "protected"},
        "processes": workers(n_jobs),
        **meter.seconds(),
    }
