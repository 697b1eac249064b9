"""The estimators that compete for a flat table, and the three plain baselines they are measured against.

Only built-in scikit-learn parts (Pipeline, ColumnTransformer, encoders, linear
models, tree ensembles), so a fitted model persists with skops and loads with
the short allow-list `SKOPS_TRUSTED`.

Which candidates compete follows the table's size: two logistic regressions
(many weak additive effects), a small regularisation grid of boosted trees
(leaf size, L2, leaf count, learning rate; early stopping from 10,000 rows)
that grows with the rows, and two bagged forests (random forest, extra trees),
which hold best on small, noisy tables where boosting overfits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from core.errors import ModelError
from models.columns import ColumnPlan, describe_dropped


@dataclass(frozen=True)
class Boosting:
    """One point of the boosted-tree grid, and the smallest training table it is tried on."""

    learning_rate: float
    max_leaf_nodes: int
    min_samples_leaf: int
    l2_regularization: float
    iterations: int = 300
    from_rows: int = 0


BOOSTING: dict[str, Boosting] = {
    # Stump-like trees, strong L2: additive effects with a few thresholds; the one tried on small tables.
    # (A rate of 0.1 over 150 rounds scored as 0.05 over 300 on three tables, in 60% of the time.)
    "hist_gradient_boosting_shallow": Boosting(0.1, 4, 40, 3.0, iterations=150),
    # The setting used before the grid: moderate leaves and regularisation.
    "hist_gradient_boosting": Boosting(0.05, 15, 40, 1.0, from_rows=2_000),
    # Smaller leaves, a faster rate: interactions that need more rows to see.
    "hist_gradient_boosting_fine": Boosting(0.1, 15, 10, 0.0, from_rows=2_000),
    # Deeper trees for large tables, where early stopping decides how many.
    "hist_gradient_boosting_deep": Boosting(0.1, 63, 100, 1.0, from_rows=20_000),
}
"""The boosted-tree grid, simplest first; a training part of `from_rows` rows or more tries a point.

Measured on small tables (1,000-2,500 training rows), more boosting settings
only added selection noise and fit time: forests held those tables better.
"""
FOREST_TREES = 100
"""Trees per forest candidate: on the tables measured, 150-200 trees scored within 0.003 of 300 at half the time."""
FOREST_SAMPLE_ROWS = 20_000
"""Each forest tree is grown on a bootstrap of at most this many rows, so cost stops growing with the table."""
BASELINE_FOREST_TREES = 300

ALL_CANDIDATES: tuple[str, ...] = (
    "logistic",
    "logistic_rich",
    *BOOSTING,
    "random_forest",
    "extra_trees",
)
"""Every candidate name, simplest first: on a near-tie the earlier one wins."""
CANDIDATE_ORDER = ALL_CANDIDATES  # the name earlier code and tests know

BASELINES: tuple[str, ...] = ("logistic", "hist_gradient_boosting_default", "random_forest_300")
"""Plain baselines a benchmark runs beside the selection: the bar it must keep up with."""

SKOPS_TRUSTED: tuple[str, ...] = (
    "functools.partial",  # HistGradientBoosting's own category re-encoder wraps check_array in a partial
    "numpy.dtype",  # SimpleImputer remembers the dtype it was fitted on
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",  # each fitted tree of the random forest and extra trees
    "sklearn.utils.validation.check_array",
)
"""The union of what `skops.io.get_untrusted_types` reports for these pipelines, plain or calibrated.

numpy.arcsinh and IsotonicRegression are trusted by skops already. The
sklearn paths are private and may move between versions; the round-trip test
in tests/test_tabular.py fails if this list goes stale.
"""


def candidate_names(rows: int) -> tuple[str, ...]:
    """The candidates that compete on a training table of `rows` rows, simplest first."""
    return tuple(n for n in ALL_CANDIDATES if n not in BOOSTING or rows >= BOOSTING[n].from_rows)


def _median_then_scale() -> Pipeline:
    # keep_empty_features: a calibration sub-fold may see a sparse column with no values at all.
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )


def _one_hot_categories(*, dense: bool = False) -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True)),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=not dense)),
        ]
    )


def _category_codes() -> OrdinalEncoder:
    """Codes for trees; unknown and missing become NaN, which trees route as missing (never a made-up code)."""
    return OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
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
        Cs=np.logspace(-3, 2, 6),  # one value a decade: 8 or 16 scored within 0.001 on IBM
        l1_ratios=(0.0,),
        scoring="roc_auc",
        cv=3,
        solver="newton-cholesky",
        max_iter=5000,
        use_legacy_attributes=False,
    )
    return Pipeline([("columns", columns), ("model", model)])


def _monotonic_cst(plan: ColumnPlan, monotonic: Mapping[str, int] | None) -> list[int] | None:
    """Category codes first (never constrained), then numbers; None without constraints."""
    if not monotonic:
        return None
    return [0] * len(plan.categorical) + [monotonic.get(c, 0) for c in plan.numeric()]


def _codes_then_numbers(plan: ColumnPlan) -> ColumnTransformer:
    return ColumnTransformer(
        [("categorical", _category_codes(), plan.categorical), ("numeric", "passthrough", plan.numeric())],
        remainder="drop",
    )


def _boosting(
    plan: ColumnPlan, setting: Boosting, *, random_state: int, monotonic: Mapping[str, int] | None = None, **overrides: Any
) -> Pipeline:
    """Trees for interactions and thresholds; categories as native HGB categories, numbers as they are (NaN routed)."""
    params: dict[str, Any] = {
        "learning_rate": setting.learning_rate,
        "max_iter": setting.iterations,
        "max_leaf_nodes": setting.max_leaf_nodes,
        "min_samples_leaf": setting.min_samples_leaf,
        "l2_regularization": setting.l2_regularization,
        "early_stopping": "auto",  # on above 10,000 rows, where a held-out tenth is affordable
        **overrides,
    }
    model = HistGradientBoostingClassifier(
        **params,
        categorical_features=list(range(len(plan.categorical))) or None,
        # Known directions (e.g. more recognition never raises risk) keep the trees from
        # learning noise that would make a "restore this signal" counterfactual look harmful.
        monotonic_cst=_monotonic_cst(plan, monotonic),
        random_state=random_state,
    )
    return Pipeline([("columns", _codes_then_numbers(plan)), ("model", model)])


def forest_leaf_rows(rows: int) -> int:
    """Rows per leaf: 1 on small tables (measured best there), one per thousand rows a tree sees above that."""
    return max(1, min(rows, FOREST_SAMPLE_ROWS) // 1000)


def _forest(
    kind: type[RandomForestClassifier | ExtraTreesClassifier],
    plan: ColumnPlan,
    *,
    rows: int,
    random_state: int,
    monotonic: Mapping[str, int] | None = None,
    trees: int = FOREST_TREES,
    plain: bool = False,
) -> Pipeline:
    """Bagged trees on one-hot categories and raw numbers (missing values routed by the trees).

    One-hot beat category codes by 0.015-0.02 ROC-AUC on a table of many-valued
    categories; with monotonic constraints the columns must be known before
    fitting, so categories are then codes (one column each). `plain` is the
    untuned baseline: every leaf one row, every tree on a full bootstrap.
    """
    cst = _monotonic_cst(plan, monotonic)
    if cst is None:
        columns = ColumnTransformer(
            [("categorical", _one_hot_categories(dense=True), plan.categorical), ("numeric", "passthrough", plan.numeric())],
            remainder="drop",
        )
    else:
        columns = _codes_then_numbers(plan)
    tuned: dict[str, Any] = {} if plain else {"min_samples_leaf": forest_leaf_rows(rows)}
    if not plain and rows > FOREST_SAMPLE_ROWS:  # extra trees too then grow each tree on a bounded bootstrap
        tuned.update(bootstrap=True, max_samples=FOREST_SAMPLE_ROWS / rows)
    model = kind(n_estimators=trees, monotonic_cst=cst, random_state=random_state, **tuned)
    return Pipeline([("columns", columns), ("model", model)])


def build(
    name: str,
    plan: ColumnPlan,
    *,
    rows: int,
    random_state: int = 0,
    monotonic: Mapping[str, int] | None = None,
) -> Pipeline:
    """An unfitted candidate (or baseline) `name` for `plan`, sized for a training part of `rows` rows."""
    if not plan.features():
        raise ModelError(f"no usable feature columns: every column was dropped ({describe_dropped(plan)})")
    if name == "logistic":
        return _logistic(plan)
    if name == "logistic_rich":
        return _logistic_rich(plan)
    if name in BOOSTING:
        return _boosting(plan, BOOSTING[name], random_state=random_state, monotonic=monotonic)
    if name == "random_forest":
        return _forest(RandomForestClassifier, plan, rows=rows, random_state=random_state, monotonic=monotonic)
    if name == "extra_trees":
        return _forest(ExtraTreesClassifier, plan, rows=rows, random_state=random_state, monotonic=monotonic)
    if name == "hist_gradient_boosting_default":
        model = HistGradientBoostingClassifier(
            categorical_features=list(range(len(plan.categorical))) or None, random_state=random_state
        )
        return Pipeline([("columns", _codes_then_numbers(plan)), ("model", model)])
    if name == "random_forest_300":
        return _forest(
            RandomForestClassifier, plan, rows=rows, random_state=random_state, trees=BASELINE_FOREST_TREES, plain=True
        )
    raise ModelError(f"unknown model {name!r}; choose one of {', '.join(ALL_CANDIDATES)}")


def candidates(
    plan: ColumnPlan, *, rows: int, random_state: int = 0, monotonic: Mapping[str, int] | None = None
) -> dict[str, Pipeline]:
    """Unfitted pipelines to compare on a training part of `rows` rows, keyed by name, simplest first."""
    return {
        name: build(name, plan, rows=rows, random_state=random_state, monotonic=monotonic)
        for name in candidate_names(rows)
    }
