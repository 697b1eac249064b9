"""The trained model end to end on a synthetic org: train, persist safely, score with drivers."""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from core.errors import ModelError, UntrustedModelError
from models.calibration import predict_risk
from models.card import card_html, card_lines
from models.dataset import FEATURES, model_input, training_set
from models.drivers import ACTIONABLE, Healthy, restored
from models.features import compute_features
from models.persist import MODEL_FILE, load, save
from models.score import model_scores, usable_model
from models.train import Trained, TrainOptions, time_splits, train
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.store import connect
from pipelines.synthetic import SynthSpec, generate

END = date(2026, 6, 28)
# One validation window and only the simplest candidate (a spent time budget): enough where
# the test is about columns, not about quality.
FAST = TrainOptions(min_validation_leavers=1, time_budget_seconds=1e-9)


@pytest.fixture(scope="module")
def org_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("org")
    generate(SynthSpec(employees=1500, months=18, seed=0, end=END), root / "drop")
    return root


@pytest.fixture(scope="module")
def org(org_root: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = connect(org_root / "r.duckdb")
    ingest_folder(conn, org_root / "drop", IngestOptions(today=END))
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def trained(org) -> Trained:
    return train(training_set(org), TrainOptions(min_validation_leavers=1, n_jobs=-1))


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    save(trained.estimator, trained.card, folder)
    return folder


def test_the_card_reports_what_hr_needs(trained):
    card = trained.card
    for key in ("data_window", "rows", "leaver_rate", "features_used", "protected_excluded", "estimator", "libraries"):
        assert key in card
    v = card["validation"]
    assert {"roc_auc", "pr_auc", "brier", "lift_top_decile", "calibration_table", "groups"} <= set(v)
    assert 0.6 < v["roc_auc"] <= 1 and 0 <= v["brier"] < 0.25
    assert set(card["candidates"]) >= {"logistic", "hist_gradient_boosting"}


def test_the_card_says_its_folds_keep_each_persons_snapshots_together(trained):
    assert trained.card["grouped"].startswith("by person")
    assert ("folds", f"grouped {trained.card['grouped']}") in card_lines(trained.card)
    assert "Folds are grouped by person" in card_html(trained.card)


def test_the_card_says_every_candidate_was_tried_within_the_time_budget(trained):
    assert trained.card["time_budget"] == {"seconds": None, "reached": False, "not_tried": [], "note": ""}
    assert len(trained.card["candidates"]) == 7


def test_a_time_budget_that_runs_out_stops_selection_and_the_card_says_so(org):
    result = train(training_set(org), FAST)
    budget = result.card["time_budget"]
    assert (result.card["estimator"], list(result.card["candidates"])) == ("logistic", ["logistic"])
    assert budget["reached"] and budget["not_tried"][0] == "logistic_rich"
    assert budget["note"] in card_html(result.card) and ("time budget", budget["note"]) in card_lines(result.card)


def test_duplicate_snapshot_rows_are_a_warning_in_the_card(org):
    data = training_set(org)
    copies = data.frame.sample(n=len(data.frame) // 20, random_state=0)
    doubled = dataclasses.replace(data, frame=pd.concat([data.frame, copies], ignore_index=True))
    result = train(doubled, FAST)
    (warning,) = result.card["warnings"]
    assert (warning["kind"], warning["rows"]) == ("duplicates", len(copies))
    assert "--group" not in warning["message"]  # training already keeps each person's snapshots together
    assert html.escape(warning["message"]) in card_html(result.card)


def test_validation_people_never_appear_in_training(org):
    frame = training_set(org).frame
    for train_idx, val_idx in time_splits(frame, training_set(org).labels, 0.25):
        assert set(frame.employee_id.iloc[train_idx]).isdisjoint(frame.employee_id.iloc[val_idx])
        assert frame.as_of.iloc[train_idx].max() < frame.as_of.iloc[val_idx].min()


def test_validation_rotates_through_held_out_people_until_it_has_enough_leavers(org):
    data = training_set(org)
    every = time_splits(data.frame, data.labels, 0.25, min_leavers=10**6)
    assert len(every) == 4
    held_out = [set(data.frame.employee_id.iloc[v]) for _, v in every]
    assert all(a.isdisjoint(b) for i, a in enumerate(held_out) for b in held_out[i + 1 :])
    assert len(time_splits(data.frame, data.labels, 0.25, min_leavers=1)) == 1


def test_the_card_says_how_many_validation_windows_and_people_it_used(trained):
    validation = trained.card["validation"]
    assert validation["windows"] >= 1 and validation["people"] > 0
    assert validation["rows"] >= validation["people"]


def test_a_saved_model_loads_and_predicts_the_same(trained, saved, org):
    loaded = load(saved, expected_features=FEATURES)
    features = compute_features(org, datetime(2026, 6, 1))
    a = model_scores(loaded, features, Healthy()).risk
    b = predict_risk(trained.estimator, model_input(features.frame()))
    assert np.allclose(a, b)


def test_loading_refuses_a_type_outside_the_allow_list(saved, tmp_path):
    folder = tmp_path / "evil"
    shutil.copytree(saved, folder)
    # A transformer that would call eval() on whatever it is given.
    (folder / MODEL_FILE).write_bytes(sio.dumps(FunctionTransformer(func=eval)))
    with pytest.raises(UntrustedModelError, match="builtins.eval"):
        load(folder, expected_features=FEATURES)


def test_a_model_trained_on_other_columns_is_refused(saved, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(saved, folder)
    card = json.loads((folder / "card.json").read_text())
    card["features"] = card["features"][:-1]
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="different feature columns"):
        load(folder, expected_features=FEATURES)


def test_a_stale_model_is_not_used_and_says_why(saved):
    later = datetime.now(UTC) + timedelta(days=400)
    choice = usable_model(saved, enabled=True, max_age_days=120, now=later)
    assert choice.model is None and "days old" in choice.reason


def test_restoring_recognition_lowers_risk_for_a_recognition_starved_star(saved, org):
    loaded = load(saved, expected_features=FEATURES)
    features = compute_features(org, datetime(2026, 6, 1))
    scores = model_scores(loaded, features, Healthy())
    starved = (features.numeric("days_since_recognition") > 120) & (features.numeric("rating_latest") >= 4)
    assert starved.sum() >= 5
    assert np.mean(scores.drivers["recognition"][starved]) > 0
    assert np.mean(scores.drivers["recognition"][starved] > 0) > 0.8


# Each actionable driver against the hazard term it should find, and which end of it is bad.
TRUE_SIGNAL = {
    "recognition": ("days_since_recognition", 1),
    "one_on_ones": ("one_on_one_lapse", 1),
    "career": ("days_since_career_talk", 1),
    "autonomy": ("autonomy", -1),
    "growth": ("growth", -1),
}


@pytest.mark.parametrize("signal", list(TRUE_SIGNAL))  # goals and voice have no term in the synthetic hazard
def test_each_driver_follows_the_true_hazard_signal_it_names(signal, saved, org, org_root):
    as_of = datetime(2026, 6, 1)
    features = compute_features(org, as_of)
    scores = model_scores(load(saved, expected_features=FEATURES), features, Healthy())
    months = pd.read_parquet(org_root / "drop" / "_truth" / "person_months.parquet")
    latest = months[months.month_start <= f"{as_of:%Y-%m-%d}"].month_start.max()
    truth = months[months.month_start == latest].set_index("employee_id")
    column, bad_end = TRUE_SIGNAL[signal]
    driver = pd.Series(scores.drivers[signal], index=features["employee_id"]).reindex(truth.index).dropna()
    badness = bad_end * truth.loc[driver.index, column]
    worst, best = badness >= badness.quantile(0.75), badness <= badness.quantile(0.25)
    assert driver[worst].mean() > 2 * driver[best].mean()
    assert driver.corr(badness, method="spearman") > 0.3


def test_drivers_are_zero_for_signals_already_healthy(saved, org):
    loaded = load(saved, expected_features=FEATURES)
    features = compute_features(org, datetime(2026, 6, 1))
    scores = model_scores(loaded, features, Healthy())
    frame = features.frame()
    for signal in ACTIONABLE:
        untouched = (restored(frame, signal, Healthy()).fillna(-1) == frame.fillna(-1)).all(axis=1).to_numpy()
        assert untouched.any()
        assert np.all(scores.drivers[signal][untouched] == 0.0)


def test_drivers_are_computed_only_for_focus_rows_at_or_above_the_threshold(saved, org):
    loaded = load(saved, expected_features=FEATURES)
    features = compute_features(org, datetime(2026, 6, 1))
    everyone = model_scores(loaded, features, Healthy())
    threshold = float(np.quantile(everyone.risk, 0.7))
    focus = features.numeric("rating_latest") >= 3
    limited = model_scores(loaded, features, Healthy(), focus=focus, min_risk=threshold)
    wanted = focus & (everyone.risk >= threshold)
    assert wanted.sum() >= 5 and (~wanted).sum() >= 5
    np.testing.assert_allclose(limited.risk, everyone.risk)
    for signal in ACTIONABLE:
        np.testing.assert_allclose(limited.drivers[signal][wanted], everyone.drivers[signal][wanted])
        assert np.all(limited.drivers[signal][~wanted] == 0.0)


def test_too_few_leavers_means_no_model(org):
    with pytest.raises(ModelError, match="min_leavers"):
        train(training_set(org), TrainOptions(min_leavers=10**6))


def test_protected_hris_columns_never_reach_the_estimator_but_are_reported_by_group(org):
    rng = np.random.default_rng(0)
    people = [r[0] for r in org.execute("select employee_id from employees").fetchall()]
    rows = [(p, "gender", str(rng.choice(["f", "m", "x"])), "employees.csv") for p in people]
    rows += [(p, "job_level", str(int(rng.integers(1, 6))), "employees.csv") for p in people]
    org.execute("begin transaction")
    try:
        org.executemany("insert into employee_attributes values (?, ?, ?, ?)", rows)
        data = training_set(org, extras=("gender", "job_level"))
        result = train(data, FAST)
    finally:
        org.execute("rollback")
    assert result.card["protected_excluded"] == ["gender"]
    assert "gender" not in result.estimator.feature_names_in_
    assert "job_level" in result.estimator.feature_names_in_
    assert "gender" in result.card["validation"]["groups"]


def test_protected_hris_columns_are_features_only_when_allowed(org):
    people = [r[0] for r in org.execute("select employee_id from employees").fetchall()]
    org.execute("begin transaction")
    try:
        org.executemany(
            "insert into employee_attributes values (?, 'gender', ?, 'employees.csv')",
            [(p, "f" if i % 2 else "m") for i, p in enumerate(people)],
        )
        result = train(training_set(org, extras=("gender",)), dataclasses.replace(FAST, allow_protected=True))
    finally:
        org.execute("rollback")
    assert result.card["protected_excluded"] == []
    assert "gender" in result.estimator.feature_names_in_
