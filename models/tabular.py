"""Encoding decisions and candidate estimators for any flat table of people and a yes/no label.

Every decision (which columns to scale, log, one-hot or drop) is made from the
training rows only, so cross-validated scores are honest. Estimators use only
built-in scikit-learn parts, so a fitted model persists with skops and loads
with the short allow-list `SKOPS_TRUSTED`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from pipelines.errors import ModelError

PROTECTED_DEFAULT: tuple[str, ...] = (
    "age",
    "agegroup",
    "ageband",
    "agebracket",
    "agerange",
    "dateofbirth",
    "birthdate",
    "dob",
    "yearofbirth",
    "birthyear",
    "over18",
    "gender",
    "genderidentity",
    "sex",
    "maritalstatus",
    "civilstatus",
    "ethnicity",
    "ethnicgroup",
    "ethnicorigin",
    "race",
    "disability",
    "disabilitystatus",
    "disabled",
    "religion",
    "belief",
    "nationality",
    "citizenship",
    "nationalorigin",
    "countryofbirth",
    "pregnancy",
    "pregnant",
    "maternity",
    "sexualorientation",
    "veteranstatus",
)
"""Normalised names (lower case, letters and digits only) of columns a retention model must not use."""

CANDIDATE_ORDER: tuple[str, ...] = ("logistic", "logistic_rich", "hist_gradient_boosting")
"""Candidate names, simplest first: on a near-tie the earlier one wins."""

SKOPS_TRUSTED: tuple[str, ...] = (
    "functools.partial",  # HistGradientBoosting's own category re-encoder wraps check_array in a partial
    "numpy.dtype",  # SimpleImputer remembers the dtype it was fitted on
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)
"""The union of what `skops.io.get_untrusted_types` reports for these pipelines, plain or calibrated.

numpy.arcsinh and IsotonicRegression are trusted by skops already. The
sklearn paths are private and may move between versions; the round-trip test
in tests/test_tabular.py fails if this list goes stale.
"""

TIE_TOLERANCE = 0.001
MAX_LOW_CARD = 10
MAX_CATEGORIES = 50
SKEW_THRESHOLD = 0.75
ISOTONIC_MIN_POSITIVES = 1000
MIN_CLASS_ROWS = 3
SELECTION_MAX_ROWS = 150_000
"""`choose` fits candidates on at most this many rows of a split's training part.

Above it, a stratified random subsample of exactly this many rows (seeded by
`random_state`, kept in table order) stands in for the training part; the
validation part is always scored in full. Ranking three candidates needs far
fewer rows than fitting the final model, and LogisticRegressionCV on a million
rows takes minutes. Tables up to this size are untouched.
"""
CALIBRATION_FIT_MAX_ROWS = 200_000
"""Each of `fit_calibrated`'s three out-of-fold models fits on at most this many rows.

They only supply out-of-fold scores for the two-parameter sigmoid (or the
isotonic steps); above the cap a stratified seeded subsample of each fold's
training part is enough for that. The model that predicts is still fitted on
every row, so its ranking (ROC-AUC) does not depend on the cap, and tables whose
folds stay under it are fitted exactly as before.
"""
RICH_SEARCH_MAX_ROWS = 150_000
"""`fit_calibrated` picks `logistic_rich`'s C on at most this many rows.

On a larger table the C search (16 values x 3 folds) runs once on a stratified
seeded subsample of this size, and every model `fit_calibrated` builds is then a
plain `LogisticRegression` with that C, fitted on all its rows. Each search
point would otherwise be three fits on the whole table, for a penalty that
barely matters at that size. Tables up to this size keep `LogisticRegressionCV`.
"""
_ID_NAME = re.compile(r"(id|number|num|no|code|key|uuid|guid)$")


def normalise_name(name: str) -> str:
    """Lower case, letters and digits only, so "Marital Status" and "marital_status" compare equal."""
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())


def protected_columns(columns: Iterable[str], *, extra: Iterable[str] = ()) -> list[str]:
    """The columns whose normalised name is protected, in table order, so they can be left out of training."""
    names = {normalise_name(n) for n in (*PROTECTED_DEFAULT, *extra)}
    return [c for c in columns if normalise_name(c) in names]


@dataclass(frozen=True)
class ColumnPlan:
    """How each column of a training table is encoded, and why the others are left out."""

    plain: list[str]
    skewed: list[str]
    low_card: list[str]
    categorical: list[str]
    dropped: dict[str, str]

    def features(self) -> list[str]:
        """The columns a model built from this plan reads, in a fixed order."""
        return [*self.plain, *self.skewed, *self.low_card, *self.categorical]

    def numeric(self) -> list[str]:
        """All numeric feature columns."""
        return [*self.plain, *self.skewed, *self.low_card]


def _is_identifier(values: pd.Series, *, name: str, numeric: bool) -> bool:
    """All values distinct and shaped like a key: text, or whole numbers named like an id or densely packed.

    Continuous measurements are often all distinct too, so a numeric column
    only counts as an identifier when it holds whole numbers that are named
    like a key (EmployeeNumber, staff_id) or fill at least half their range
    (a row number).
    """
    present = values.dropna()
    if len(present) < 2 or present.nunique() != len(present):
        return False
    if not numeric:
        return True
    numbers = present.to_numpy(dtype=np.float64)
    if not np.all(np.equal(np.mod(numbers, 1), 0)):
        return False
    span = float(numbers.max() - numbers.min() + 1)
    return bool(_ID_NAME.search(normalise_name(name))) or len(numbers) >= 0.5 * span


def _numeric_kind(values: pd.Series) -> str:
    """"low_card", "skewed" or "plain" for a numeric training column."""
    present = values.dropna().astype(np.float64)
    if present.nunique() <= MAX_LOW_CARD:
        return "low_card"
    if present.min() >= 0 and abs(float(present.skew())) > SKEW_THRESHOLD:
        return "skewed"
    return "plain"


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def plan_columns(X: pd.DataFrame, *, exclude: Iterable[str] = ()) -> ColumnPlan:
    """Decide each column's encoding from these rows alone: call it on a training fold, never a test fold."""
    excluded = set(exclude)
    groups: dict[str, list[str]] = {"plain": [], "skewed": [], "low_card": [], "categorical": []}
    dropped: dict[str, str] = {}
    for name in X.columns:
        reason, group = _decide(X[name], name=str(name), protected=name in excluded)
        if reason:
            dropped[name] = reason
        else:
            groups[group].append(name)
    return ColumnPlan(**groups, dropped=dropped)


def _decide(values: pd.Series, *, name: str, protected: bool) -> tuple[str, str]:
    """(reason to drop, "") or ("", group) for one training column."""
    numeric = _is_numeric(values)
    if protected:
        return "protected", ""
    if values.isna().all():
        return "all missing", ""
    if values.nunique(dropna=True) < 2:
        return "constant", ""
    if _is_identifier(values, name=name, numeric=numeric):
        return "identifier", ""
    if numeric:
        return "", _numeric_kind(values)
    if values.nunique(dropna=True) > MAX_CATEGORIES:
        return "too many categories", ""
    return "", "categorical"


def _median_then_scale() -> Pipeline:
    # keep_empty_features: a calibration sub-fold may see a sparse column with no values at all.
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )


def _one_hot_categories() -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True)),
            ("one_hot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )


def _logistic(plan: ColumnPlan) -> Pipeline:
    """The naive baseline: every numeric column scaled, categories one-hot, default regularisation."""
    columns = ColumnTransformer(
        [
            ("numeric", _median_then_scale(), plan.numeric()),
            ("categorical", _one_hot_categories(), plan.categorical),
        ],
        remainder="drop",
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=5000))])


def _logistic_rich(plan: ColumnPlan) -> Pipeline:
    """Skewed amounts on an arcsinh scale, few-valued numbers both as a trend and as levels, C chosen by CV."""
    skewed = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("arcsinh", FunctionTransformer(np.arcsinh, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
        ]
    )
    columns = ColumnTransformer(
        [
            ("plain", _median_then_scale(), plan.plain),
            ("skewed", skewed, plan.skewed),
            ("low_card_linear", _median_then_scale(), plan.low_card),
            ("low_card_levels", OneHotEncoder(handle_unknown="ignore"), plan.low_card),
            ("categorical", _one_hot_categories(), plan.categorical),
        ],
        remainder="drop",
    )
    # Newton-Cholesky solves the same L2 problem ~7x faster than lbfgs on tall tables
    # (thousands of rows, tens of columns), which is what training sets look like.
    model = LogisticRegressionCV(
        Cs=np.logspace(-3, 2, 16),
        l1_ratios=(0.0,),
        scoring="roc_auc",
        cv=3,
        solver="newton-cholesky",
        max_iter=5000,
        use_legacy_attributes=False,
    )
    return Pipeline([("columns", columns), ("model", model)])


def _hist_gradient_boosting(
    plan: ColumnPlan, *, random_state: int, monotonic: Mapping[str, int] | None = None
) -> Pipeline:
    """Trees for interactions and thresholds; categories as codes, unseen or missing ones as NaN.

    HGB re-encodes categorical columns itself and would treat a code such as
    -1 as one more category, so unknown and missing become NaN, which it
    routes as missing (and NaN in numeric columns needs no imputing).
    """
    codes = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
    )
    columns = ColumnTransformer(
        [
            ("categorical", codes, plan.categorical),
            ("numeric", "passthrough", plan.numeric()),
        ],
        remainder="drop",
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping="auto",  # on above 10,000 rows, where a held-out tenth is affordable
        categorical_features=list(range(len(plan.categorical))) or None,
        # Known directions (e.g. more recognition never raises risk) keep the trees from
        # learning noise that would make a "restore this signal" counterfactual look harmful.
        monotonic_cst=[0] * len(plan.categorical) + [(monotonic or {}).get(c, 0) for c in plan.numeric()]
        if monotonic
        else None,
        random_state=random_state,
    )
    return Pipeline([("columns", columns), ("model", model)])


def candidates(
    plan: ColumnPlan, *, random_state: int = 0, monotonic: Mapping[str, int] | None = None
) -> dict[str, Pipeline]:
    """Unfitted pipelines to compare, keyed by name, simplest first; fit them on `X[plan.features()]`."""
    if not plan.features():
        raise ModelError(f"no usable feature columns: every column was dropped ({_describe_dropped(plan)})")
    return {
        "logistic": _logistic(plan),
        "logistic_rich": _logistic_rich(plan),
        "hist_gradient_boosting": _hist_gradient_boosting(plan, random_state=random_state, monotonic=monotonic),
    }


def _describe_dropped(plan: ColumnPlan) -> str:
    return ", ".join(f"{name}: {reason}" for name, reason in plan.dropped.items()) or "no columns"


@dataclass(frozen=True)
class Choice:
    """Which candidate won, and every candidate's mean validation ROC-AUC."""

    selected: str
    scores: dict[str, float]


def pick(scores: dict[str, float], *, tolerance: float = TIE_TOLERANCE) -> str:
    """The best-scoring name, or the simplest one within `tolerance` of it."""
    best = max(scores.values())
    ranked = sorted(scores, key=lambda n: CANDIDATE_ORDER.index(n) if n in CANDIDATE_ORDER else len(CANDIDATE_ORDER))
    return next(name for name in ranked if scores[name] >= best - tolerance)


def _check_labels(y: np.ndarray, *, where: str, at_least: int) -> None:
    """Both classes present, `at_least` rows each: the estimators' own 3-fold CV needs 3 of each."""
    positives = int(np.sum(y))
    if min(positives, len(y) - positives) < at_least:
        raise ModelError(
            f"{where} has {positives} leavers and {len(y) - positives} stayers; need at least {at_least} of each"
            " (use fewer folds or more rows)"
        )


def stratified_subsample(y: np.ndarray, max_rows: int, *, random_state: int = 0) -> np.ndarray:
    """Positions of at most `max_rows` rows of `y`, each class in its share of the whole, in table order.

    Every row when there are no more than `max_rows`; otherwise exactly
    `max_rows`, drawn without replacement by a generator seeded with
    `random_state`, so the same labels and seed always give the same rows.
    """
    y = np.asarray(y)
    if len(y) <= max_rows:
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (max_rows / len(y))
    take = np.floor(quota).astype(np.int64)
    # Largest remainders get the rows still missing, so the sample has exactly max_rows.
    take[np.argsort(take - quota, kind="stable")[: max_rows - int(take.sum())]] += 1
    rng = np.random.default_rng(random_state)
    picked = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked))


def choose(
    X: pd.DataFrame,
    y: np.ndarray,
    splits: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    exclude: Iterable[str] = (),
    monotonic: Mapping[str, int] | None = None,
    random_state: int = 0,
) -> Choice:
    """Pick the candidate with the best mean validation ROC-AUC, preferring the simpler on a near-tie.

    A training part above `SELECTION_MAX_ROWS` rows is replaced by a stratified
    subsample of that many rows (`stratified_subsample`, seeded by
    `random_state`): column plan and candidates are built and fitted on it, as
    if the training part were that subsample. Validation parts are scored in full.
    """
    y = np.asarray(y)
    excluded = list(exclude)
    totals: dict[str, list[float]] = {}
    for number, (train_idx, val_idx) in enumerate(splits, start=1):
        if len(train_idx) > SELECTION_MAX_ROWS:
            train_idx = np.asarray(train_idx)[
                stratified_subsample(y[train_idx], SELECTION_MAX_ROWS, random_state=random_state)
            ]
        X_train, y_train = X.iloc[train_idx], y[train_idx]
        X_val, y_val = X.iloc[val_idx], y[val_idx]
        _check_labels(y_train, where=f"training part of split {number}", at_least=MIN_CLASS_ROWS)
        _check_labels(y_val, where=f"validation part of split {number}", at_least=1)
        plan = plan_columns(X_train, exclude=excluded)
        features = plan.features()
        for name, pipeline in candidates(plan, random_state=random_state, monotonic=monotonic).items():
            pipeline.fit(X_train[features], y_train)
            scores = pipeline.predict_proba(X_val[features])[:, 1]
            totals.setdefault(name, []).append(float(roc_auc_score(y_val, scores)))
    if not totals:
        raise ModelError("no validation split given; pass at least one (train, validation) pair")
    means = {name: float(np.mean(values)) for name, values in totals.items()}
    return Choice(selected=pick(means), scores=means)


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
    than they are.

    Large tables (tables up to both caps are fitted exactly as before): above
    `CALIBRATION_FIT_MAX_ROWS` rows per fold, the out-of-fold models fit on a
    stratified subsample of their fold; above `RICH_SEARCH_MAX_ROWS` rows,
    `logistic_rich` takes its C from a search on a subsample (both seeded by
    `random_state`). The model that predicts is always fitted on every row.
    """
    y = np.asarray(y)
    # Calibration trains on two thirds of the rows, and logistic_rich cross-validates again inside that.
    _check_labels(y, where="the training table", at_least=MIN_CLASS_ROWS + 2)
    plan = plan_columns(X, exclude=exclude)
    options = candidates(plan, random_state=random_state, monotonic=monotonic)
    if name not in options:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(options)}")
    features = plan.features()
    estimator = options[name]
    if name == "logistic_rich" and len(y) > RICH_SEARCH_MAX_ROWS:
        estimator = _rich_with_c_from_subsample(estimator, X[features], y, random_state=random_state)
    folds = _calibration_folds(X, y, groups, random_state=random_state)
    model = CalibratedClassifierCV(estimator, method=method or calibration_method(y), cv=folds, ensemble=False)
    model.fit(X[features], y)
    return model


def _rich_with_c_from_subsample(rich: Pipeline, X: pd.DataFrame, y: np.ndarray, *, random_state: int) -> Pipeline:
    """`logistic_rich` for a large table: its C cross-validated on a subsample, then fixed in a plain LogisticRegression."""
    rows = stratified_subsample(y, RICH_SEARCH_MAX_ROWS, random_state=random_state)
    searched = clone(rich).fit(X.iloc[rows], y[rows])
    c = float(np.ravel(searched.named_steps["model"].C_)[0])
    return Pipeline([("columns", clone(rich.named_steps["columns"])), ("model", LogisticRegression(C=c, max_iter=5000))])


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
