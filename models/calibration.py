"""Fit the chosen candidate on every row with probabilities calibrated out of fold, and predict with it.

One `CalibratedClassifierCV(ensemble=False)`: the out-of-fold scores of three
fold models fit the sigmoid (or isotonic steps); the model that predicts is
fitted on all rows. Large tables cap what the fold models and the C search see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from core.errors import ModelError
from models.candidates import ALL_CANDIDATES, build
from models.columns import plan_columns
from models.cores import one_thread
from models.selection import MIN_CLASS_ROWS, check_labels, stratified_subsample

ISOTONIC_MIN_POSITIVES = 1000
CALIBRATION_FIT_MAX_ROWS = 200_000
"""Each of `fit_calibrated`'s three out-of-fold models fits on at most this many rows.

They only supply out-of-fold scores for the two-parameter sigmoid (or the
isotonic steps); above the cap a stratified seeded subsample of each fold's
training part is enough for that. The model that predicts is still fitted on
every row, so its ranking (ROC-AUC) does not depend on the cap, and tables whose
folds stay under it are fitted exactly as before.
"""
RICH_SEARCH_MAX_ROWS = 150_000
"""`fit_calibrated` searches `logistic_rich`'s C once, on at most this many rows.

The C search (16 values x 3 folds) runs once, on the rows given (a stratified
seeded subsample of this size on a larger table), and every model
`fit_calibrated` builds is then a plain `LogisticRegression` with that C: the
three calibration fold models and the model that predicts, fitted on all its
rows (what `LogisticRegressionCV` refits too). Searching again inside each
calibration fold cost four times as much for a penalty that barely moves.
"""


def calibration_method(y: np.ndarray) -> str:
    """Sigmoid (two parameters) unless there are enough leavers for isotonic's step function not to overfit."""
    return "isotonic" if int(np.sum(y)) >= ISOTONIC_MIN_POSITIVES else "sigmoid"


def fit_calibrated(
    name: str,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    exclude: Iterable[str] = (),
    groups: np.ndarray | None = None,
    method: str | None = None,
    monotonic: Mapping[str, int] | None = None,
    random_state: int = 0,
) -> CalibratedClassifierCV:
    """Fit candidate `name` on all rows with probabilities calibrated out of fold; one model to predict with.

    The fitted model's `feature_names_in_` lists the columns to pass at prediction time.
    `method` overrides the calibration chosen from the sample size; `monotonic`
    maps numeric columns to +1/-1 where risk may only rise/fall with them (trees only).
    `groups` (e.g. the person behind each row) keeps a group's rows in one calibration
    fold, so repeated rows of one person cannot make the out-of-fold scores look surer
    than they are. Fits run with one BLAS/OpenMP thread (`models.cores`).

    `logistic_rich` searches its C once and fixes it in every model built here
    (`RICH_SEARCH_MAX_ROWS`). Large tables: above `CALIBRATION_FIT_MAX_ROWS`
    rows per fold, the out-of-fold models fit on a stratified subsample of their
    fold; above `RICH_SEARCH_MAX_ROWS` rows, the C search runs on a subsample
    (both seeded by `random_state`). The model that predicts is always fitted on every row.
    """
    y = np.asarray(y)
    if name not in ALL_CANDIDATES:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(ALL_CANDIDATES)}")
    # Calibration trains on two thirds of the rows, and logistic_rich cross-validates again inside that.
    check_labels(y, where="the training table", at_least=MIN_CLASS_ROWS + 2)
    plan = plan_columns(X, exclude=exclude)
    features = plan.features()
    estimator = build(name, plan, rows=len(y), random_state=random_state, monotonic=monotonic)
    with one_thread():
        if name == "logistic_rich":
            estimator = _rich_with_searched_c(estimator, X[features], y, random_state=random_state)
        folds = _calibration_folds(X, y, groups, random_state=random_state)
        model = CalibratedClassifierCV(estimator, method=method or calibration_method(y), cv=folds, ensemble=False)
        model.fit(X[features], y)
    return model


def _rich_with_searched_c(rich: Pipeline, X: pd.DataFrame, y: np.ndarray, *, random_state: int) -> Pipeline:
    """`logistic_rich` with its C cross-validated once (on a subsample of a large table), fixed in a plain LogisticRegression."""
    rows = stratified_subsample(y, RICH_SEARCH_MAX_ROWS, random_state=random_state)
    searched = clone(rich).fit(X.iloc[rows], y[rows])
    c = float(np.ravel(searched.named_steps["model"].C_)[0])
    return Pipeline([("columns", clone(rich.named_steps["columns"])), ("model", LogisticRegression(C=c, solver="newton-cholesky", max_iter=5000))])


def _calibration_folds(
    X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None, *, random_state: int
) -> int | list[tuple[np.ndarray, np.ndarray]]:
    """Three calibration folds (by group if given), each training part capped at `CALIBRATION_FIT_MAX_ROWS`.

    The validation parts stay whole: together they cover every row once, as the
    out-of-fold scores need. Below the cap this is exactly what `cv=3` (stratified)
    or the grouped folds did before.
    """
    if groups is None:
        splits = list(StratifiedKFold(n_splits=3).split(X, y))  # what cv=3 means for a classifier
        if all(len(train) <= CALIBRATION_FIT_MAX_ROWS for train, _ in splits):
            return 3  # as before, and as the persisted model has always recorded it
    else:
        splits = list(GroupKFold(n_splits=3).split(X, y, groups))
    return [
        (train[stratified_subsample(y[train], CALIBRATION_FIT_MAX_ROWS, random_state=random_state)], test)
        if len(train) > CALIBRATION_FIT_MAX_ROWS
        else (train, test)
        for train, test in splits
    ]


def predict_risk(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Probability of the positive class, passing exactly the columns the model was fitted on."""
    columns = list(getattr(model, "feature_names_in_", X.columns))
    return np.asarray(model.predict_proba(X[columns])[:, 1], dtype=np.float64)
