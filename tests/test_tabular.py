"""Encoding decisions, candidate pipelines, selection, calibration and skops persistence for flat tables.

(models/columns.py, candidates.py, selection.py and calibration.py: once models/tabular.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from core.errors import ModelError
from models import calibration, selection
from models.calibration import calibration_method, fit_calibrated
from models.candidates import (
    ALL_CANDIDATES,
    BOOSTING,
    SKOPS_TRUSTED,
    build,
    candidate_names,
    candidates,
    forest_leaf_rows,
)
from models.columns import plan_columns, protected_columns
from models.selection import choose, pick, stratified_subsample


def people_table(n: int = 300, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """An HR-like table: an id, a constant, protected columns, skewed pay, ratings, a team; leaving follows pay and rating."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "EmployeeNumber": rng.permutation(np.arange(1000, 1000 + 3 * n, 3)).astype(float),
            "StandardHours": np.full(n, 80.0),
            "Age": rng.integers(20, 60, n).astype(float),
            "Gender": rng.choice(["Female", "Male"], n),
            "Marital Status": rng.choice(["Single", "Married", "Divorced"], n),
            "MonthlyIncome": np.round(rng.lognormal(8, 0.6, n)),
            "DailyRate": rng.normal(800, 200, n),
            "JobSatisfaction": rng.integers(1, 5, n).astype(float),
            "Team": rng.choice(["sales", "support", "engineering"], n),
        }
    )
    logit = -0.9 * (np.log(X["MonthlyIncome"]) - 8) - 0.6 * (X["JobSatisfaction"] - 2.5) - 1.2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(np.int64)
    return X, y


def linear_table(n: int = 2000, *, k: int = 20, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Many weak, additive effects on the log-odds: the shape logistic regression is built for."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(k)})
    X["team"] = rng.choice(["a", "b", "c", "d"], n)
    team_effect = X["team"].map({"a": 0.4, "b": 0.0, "c": -0.4, "d": 0.0}).to_numpy(dtype=np.float64)
    logit = X.iloc[:, :k].to_numpy(dtype=np.float64) @ np.full(k, 0.25) + team_effect - 1.0
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def interaction_table(n: int = 2000, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Leaving depends on which side of two thresholds a person is (XOR), with 10% label noise: no linear signal."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.uniform(-1, 1, n) for i in range(6)})
    y = ((X["x0"] > 0) ^ (X["x1"] > 0)).to_numpy().astype(np.int64)
    return X, np.where(rng.random(n) < 0.1, 1 - y, y)


def fitted(
    plan_source: pd.DataFrame, y: np.ndarray, *, exclude: list[str] | None = None, names: tuple[str, ...] = ALL_CANDIDATES
) -> dict[str, Pipeline]:
    """The named candidates (every one there is, whatever the table's size would choose), fitted on these rows."""
    plan = plan_columns(plan_source, exclude=exclude or [])
    models = {name: build(name, plan, rows=len(y)) for name in names}
    for pipeline in models.values():
        pipeline.fit(plan_source[plan.features()], y)
    return models


def test_protected_columns_match_names_ignoring_case_spaces_and_underscores() -> None:
    columns = ["Age", "GENDER", "Marital Status", "marital_status", "MaritalStatus", "Department", "Agency"]
    assert protected_columns(columns) == ["Age", "GENDER", "Marital Status", "marital_status", "MaritalStatus"]


def test_protected_columns_accept_extra_names() -> None:
    assert protected_columns(["Union Member", "Pay"], extra=["union_member"]) == ["Union Member"]


def test_plan_drops_constant_identifier_and_protected_columns_and_says_why() -> None:
    X, _ = people_table()
    plan = plan_columns(X, exclude=protected_columns(X.columns))
    assert plan.dropped == {
        "EmployeeNumber": "identifier",
        "StandardHours": "constant",
        "Age": "protected",
        "Gender": "protected",
        "Marital Status": "protected",
    }
    assert not set(plan.dropped) & set(plan.features())


def test_plan_drops_all_missing_columns_and_text_with_too_many_categories() -> None:
    n = 200
    X = pd.DataFrame(
        {
            "empty": np.full(n, np.nan),
            "city": [f"city {i % 60}" for i in range(n)],
            "email": [f"p{i}@example.com" for i in range(n)],
            "score": np.linspace(0, 1, n),
        }
    )
    assert plan_columns(X).dropped == {"empty": "all missing", "city": "too many categories", "email": "identifier"}


def test_plan_keeps_continuous_measurements_even_when_every_value_is_distinct() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"commute_km": rng.normal(20, 5, 300), "tenure_days": rng.permutation(np.arange(0, 30000, 10))[:300]})
    assert plan_columns(X).dropped == {}


def test_plan_sorts_numbers_into_plain_skewed_and_low_cardinality() -> None:
    X, _ = people_table()
    plan = plan_columns(X, exclude=protected_columns(X.columns))
    assert (plan.plain, plan.skewed, plan.low_card, plan.categorical) == (
        ["DailyRate"],
        ["MonthlyIncome"],
        ["JobSatisfaction"],
        ["Team"],
    )


def test_skewed_columns_only_include_those_non_negative_in_training() -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"pay": rng.lognormal(0, 1, 300), "balance": rng.lognormal(0, 1, 300) - 1.0})
    plan = plan_columns(X)
    assert (plan.skewed, plan.plain) == (["pay"], ["balance"])


def test_protected_columns_never_reach_the_fitted_estimators() -> None:
    X, y = people_table()
    protected = protected_columns(X.columns)
    for name, pipeline in fitted(X, y, exclude=protected).items():
        seen = set(pipeline.feature_names_in_) | set(pipeline.named_steps["columns"].feature_names_in_)
        assert not seen & set(protected), name
    calibrated = fit_calibrated("logistic_rich", X, y, exclude=protected)
    assert not set(calibrated.feature_names_in_) & set(protected)


def test_protected_columns_reach_the_estimator_only_when_allowed() -> None:
    X, y = people_table()
    assert {"Age", "Gender", "Marital Status"} <= set(fit_calibrated("logistic", X, y).feature_names_in_)


@pytest.mark.parametrize("name", ALL_CANDIDATES)
def test_candidates_work_without_categorical_columns(name: str) -> None:
    X, y = people_table()
    numbers = X[["MonthlyIncome", "DailyRate", "JobSatisfaction"]]
    model = fitted(numbers, y, names=(name,))[name]
    assert model.predict_proba(numbers).shape == (len(y), 2)


@pytest.mark.parametrize("name", ALL_CANDIDATES)
def test_candidates_work_without_numeric_columns(name: str) -> None:
    X, y = people_table()
    texts = X[["Team"]].assign(Band=np.where(X["MonthlyIncome"] > 3000, "high", "low"))
    model = fitted(texts, y, names=(name,))[name]
    assert model.predict_proba(texts).shape == (len(y), 2)


@pytest.mark.parametrize("name", ALL_CANDIDATES)
def test_candidates_score_unseen_categories_and_missing_values(name: str) -> None:
    X, y = people_table()
    X = X.drop(columns=protected_columns(X.columns))
    X.loc[X.index[::9], "MonthlyIncome"] = np.nan
    model = fitted(X, y, names=(name,))[name]
    new = X.head(4).copy()
    new["Team"] = ["legal", None, "sales", "support"]
    new["DailyRate"] = [np.nan, -5000.0, 800.0, 900.0]
    new["MonthlyIncome"] = [np.nan, -10.0, 1e7, 5000.0]
    p = model.predict_proba(new[model.feature_names_in_])[:, 1]
    assert np.all(np.isfinite(p))


def test_candidates_refuse_a_plan_with_no_usable_columns() -> None:
    X = pd.DataFrame({"EmployeeNumber": np.arange(50.0), "Country": ["UK"] * 50})
    with pytest.raises(ModelError, match="EmployeeNumber: identifier"):
        candidates(plan_columns(X), rows=50)


def test_the_candidates_grow_with_the_table_simplest_first() -> None:
    small, medium, large = candidate_names(1_000), candidate_names(5_000), candidate_names(50_000)
    assert small == ("logistic", "logistic_rich", "hist_gradient_boosting_shallow", "random_forest", "extra_trees")
    assert set(small) < set(medium) < set(large) == set(ALL_CANDIDATES)
    assert [n for n in large if n in BOOSTING] == list(BOOSTING)
    for names in (small, medium, large):
        assert list(names) == sorted(names, key=ALL_CANDIDATES.index)


def test_forest_leaves_hold_one_row_on_small_tables_and_more_as_a_tree_sees_more_rows() -> None:
    assert [forest_leaf_rows(n) for n in (300, 1_999, 8_000, 20_000, 1_000_000)] == [1, 1, 8, 20, 20]
    model = build("random_forest", plan_columns(people_table()[0]), rows=100_000).named_steps["model"]
    assert (model.min_samples_leaf, model.max_samples) == (20, 0.2)


def test_choose_selects_a_logistic_model_on_a_logit_linear_table() -> None:
    X, y = linear_table()
    choice = choose(X, y, StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    assert choice.selected in {"logistic", "logistic_rich"}
    trees = [name for name in choice.scores if not name.startswith("logistic")]
    assert trees and all(choice.scores[choice.selected] > choice.scores[name] + 0.02 for name in trees)


def test_choose_selects_a_tree_model_by_a_wide_margin_on_an_interaction_table() -> None:
    X, y = interaction_table()
    earlier, later = np.arange(1400), np.arange(1400, 2000)  # the product's one time-ordered split
    choice = choose(X, y, [(earlier, later)])
    assert choice.selected in {"hist_gradient_boosting_shallow", "random_forest", "extra_trees"}
    assert choice.scores[choice.selected] > max(choice.scores["logistic"], choice.scores["logistic_rich"]) + 0.2


def test_choose_prefers_the_simpler_candidate_within_a_thousandth() -> None:
    assert pick({"logistic": 0.8000, "logistic_rich": 0.8009, "hist_gradient_boosting": 0.8005}) == "logistic"
    assert pick({"logistic": 0.7980, "logistic_rich": 0.8000, "hist_gradient_boosting": 0.8009}) == "logistic_rich"
    assert pick({"logistic": 0.7900, "logistic_rich": 0.7950, "hist_gradient_boosting": 0.8000}) == "hist_gradient_boosting"


def test_choose_names_the_split_whose_validation_part_has_one_class() -> None:
    X, y = people_table()
    stayers = np.flatnonzero(y == 0)[:20]
    with pytest.raises(ModelError, match="validation part of split 1"):
        choose(X, y, [(np.setdiff1d(np.arange(len(y)), stayers), stayers)])


def test_stratified_subsample_keeps_class_shares_and_table_order_and_depends_only_on_the_seed() -> None:
    y = np.random.default_rng(0).permutation(np.r_[np.ones(301), np.zeros(2699)]).astype(np.int64)
    rows = stratified_subsample(y, 1000, random_state=0)
    assert len(rows) == 1000 and len(np.unique(rows)) == 1000 and np.all(np.diff(rows) > 0)
    assert int(y[rows].sum()) == 100  # 301 of 3000 leavers -> 100.3 of 1000
    np.testing.assert_array_equal(rows, stratified_subsample(y, 1000, random_state=0))
    assert not np.array_equal(rows, stratified_subsample(y, 1000, random_state=1))
    np.testing.assert_array_equal(stratified_subsample(y, 3000, random_state=5), np.arange(3000))


def test_choose_fits_candidates_on_a_seeded_subsample_of_at_most_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "SELECTION_MAX_ROWS", 600)
    X, y = linear_table()
    earlier, later = np.arange(1500), np.arange(1500, 2000)
    fitted_on: list[np.ndarray] = []
    fit = Pipeline.fit

    def recording(self: Pipeline, X: pd.DataFrame, y: np.ndarray | None = None, **params: object) -> Pipeline:
        if self.steps[-1][0] == "model":  # the candidate itself, not a pipeline nested in its columns
            fitted_on.append(X.index.to_numpy())
        return fit(self, X, y, **params)

    monkeypatch.setattr(Pipeline, "fit", recording)
    first = choose(X, y, [(earlier, later)], random_state=0)
    assert len(fitted_on) == len(candidate_names(600))
    rows = fitted_on[0]
    assert len(rows) == 600 and set(rows) <= set(earlier)
    assert all(np.array_equal(r, rows) for r in fitted_on)
    assert abs(y[rows].mean() - y[earlier].mean()) < 0.002
    fitted_on.clear()
    assert choose(X, y, [(earlier, later)], random_state=0) == first
    np.testing.assert_array_equal(fitted_on[0], rows)
    fitted_on.clear()
    choose(X, y, [(earlier, later)], random_state=1)
    assert len(fitted_on[0]) == 600 and not np.array_equal(fitted_on[0], rows)
    fitted_on.clear()
    monkeypatch.setattr(selection, "SELECTION_MAX_ROWS", 1500)  # at the cap: every training row, as before
    choose(X, y, [(earlier, later)], random_state=0)
    np.testing.assert_array_equal(fitted_on[0], earlier)


def test_fit_calibrated_caps_the_out_of_fold_fits_and_fits_the_predicting_model_on_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = people_table(600)
    X = X.drop(columns=protected_columns(X.columns))
    people = np.arange(600) % 97
    monkeypatch.setattr(calibration, "CALIBRATION_FIT_MAX_ROWS", 150)
    model = fit_calibrated("logistic", X, y, groups=people)
    folds = model.cv
    assert len(folds) == 3 and all(len(train) == 150 for train, _ in folds)
    np.testing.assert_array_equal(np.sort(np.concatenate([test for _, test in folds])), np.arange(600))
    assert all(not set(people[train]) & set(people[test]) for train, test in folds)
    scaler = model.calibrated_classifiers_[0].estimator.named_steps["columns"].named_transformers_["numeric"]
    assert scaler.named_steps["scale"].n_samples_seen_ == 600
    again = fit_calibrated("logistic", X, y, groups=people).cv
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    assert all(len(train) == 150 for train, _ in fit_calibrated("logistic", X, y).cv)  # stratified folds, no groups
    monkeypatch.setattr(calibration, "CALIBRATION_FIT_MAX_ROWS", 400)  # every fold within the cap: as before
    assert fit_calibrated("logistic", X, y).cv == 3


def test_fit_calibrated_searches_logistic_richs_c_once_on_at_most_the_cap_and_fixes_it_in_every_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = people_table(600)
    X = X.drop(columns=protected_columns(X.columns))
    plan = plan_columns(X)

    def searched_c(rows: np.ndarray) -> float:
        search = build("logistic_rich", plan, rows=len(rows)).fit(X.iloc[rows][plan.features()], y[rows])
        return float(np.ravel(search.named_steps["model"].C_)[0])

    for cap, rows in ((600, np.arange(600)), (200, stratified_subsample(y, 200, random_state=0))):
        monkeypatch.setattr(calibration, "RICH_SEARCH_MAX_ROWS", cap)
        model = fit_calibrated("logistic_rich", X, y)
        final = model.calibrated_classifiers_[0].estimator.named_steps["model"]
        assert type(final) is LogisticRegression and final.C == searched_c(rows)
        assert model.estimator.named_steps["model"].C == final.C  # the calibration folds' models too


def test_fit_calibrated_predicts_probabilities_between_0_and_1() -> None:
    X, y = people_table()
    model = fit_calibrated("hist_gradient_boosting", X, y, exclude=protected_columns(X.columns))
    p = model.predict_proba(X[model.feature_names_in_])[:, 1]
    assert len(model.calibrated_classifiers_) == 1  # ensemble=False: one model to predict with
    assert np.all((p >= 0) & (p <= 1)) and p.std() > 0


def test_fit_calibrated_names_unknown_models() -> None:
    X, y = people_table()
    with pytest.raises(ModelError, match="unknown model 'forest'; choose one of logistic, "):
        fit_calibrated("forest", X, y)


def test_calibration_uses_sigmoid_below_a_thousand_leavers_and_isotonic_above() -> None:
    assert calibration_method(np.r_[np.ones(999), np.zeros(5000)]) == "sigmoid"
    assert calibration_method(np.r_[np.ones(1000), np.zeros(5000)]) == "isotonic"


CALIBRATED_FOR_TYPES = ("logistic_rich", "hist_gradient_boosting", "random_forest", "extra_trees")


@pytest.fixture(scope="module")
def untrusted_by_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Dump each candidate plain and calibrated (and one isotonic-calibrated); load with only what it reports."""
    X, y = people_table(seed=3)
    X = X.drop(columns=protected_columns(X.columns))
    X.loc[X.index[::7], "DailyRate"] = np.nan
    folder = tmp_path_factory.mktemp("skops")
    plan = plan_columns(X)
    features = plan.features()
    found: dict[str, list[str]] = {}
    for name in ALL_CANDIDATES:
        models = {name: build(name, plan, rows=len(y)).fit(X[features], y)}
        if name in CALIBRATED_FOR_TYPES:  # a family's members share their types, calibrated or not
            models[f"{name}+sigmoid"] = fit_calibrated(name, X, y)
        if name == "logistic":  # the isotonic calibrator's types are the same whatever it calibrates
            models[f"{name}+isotonic"] = CalibratedClassifierCV(
                build(name, plan, rows=len(y)), method="isotonic", cv=3, ensemble=False
            ).fit(X[features], y)
        if name in {"random_forest", "extra_trees"}:  # on a large table they grow from a bounded bootstrap
            models[f"{name}@100000"] = build(name, plan, rows=100_000).fit(X[features], y)
        for label, model in models.items():
            path = Path(folder) / f"{label}.skops"
            sio.dump(model, path)
            found[label] = sio.get_untrusted_types(file=path)
            loaded = sio.load(path, trusted=found[label])
            np.testing.assert_allclose(loaded.predict_proba(X[features]), model.predict_proba(X[features]))
    return found


def test_every_model_loads_with_the_shared_skops_allow_list(untrusted_by_model: dict[str, list[str]]) -> None:
    outside = {label: sorted(set(types) - set(SKOPS_TRUSTED)) for label, types in untrusted_by_model.items()}
    assert outside == {label: [] for label in untrusted_by_model}


def test_skops_allow_list_holds_nothing_the_models_do_not_need(untrusted_by_model: dict[str, list[str]]) -> None:
    needed = set().union(*untrusted_by_model.values())
    assert sorted(needed) == sorted(SKOPS_TRUSTED)
