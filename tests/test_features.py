"""Point-in-time features and the rules score they feed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from models.features import compute_features
from models.rules import RuleWeights, rules_score
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.synthetic import SynthSpec, generate
from tests.conftest import TODAY, tiny_org, write_drop

AS_OF = datetime(2026, 11, 23)


def test_someone_who_left_after_the_snapshot_is_on_its_roster(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    departed = "E04"  # left 30 days before TODAY
    before = compute_features(conn, datetime.combine(TODAY - timedelta(days=60), datetime.min.time()))
    after = compute_features(conn, AS_OF)
    assert departed in set(before["employee_id"]) and departed not in set(after["employee_id"])


def test_events_after_the_snapshot_do_not_change_its_features(conn, tmp_path):
    files = tiny_org()
    ingest_folder(conn, write_drop(tmp_path / "a", files), IngestOptions(today=TODAY))
    first = compute_features(conn, AS_OF)
    later = "E05,2026-11-24 09:00:00,E02,5,slack,late thanks\n"
    files["recognition.csv"] += later
    ingest_folder(conn, write_drop(tmp_path / "a", files), IngestOptions(today=TODAY))
    second = compute_features(conn, AS_OF)
    for name, values in first.columns.items():
        assert np.array_equal(values, second.columns[name]), name


def test_a_recognition_on_the_snapshot_day_counts_only_for_later_snapshots(conn, tmp_path):
    files = tiny_org()
    files["recognition.csv"] += "E07,2026-11-23 00:00:00,E02,5,slack,x\n"
    ingest_folder(conn, write_drop(tmp_path / "a", files), IngestOptions(today=TODAY))
    at = compute_features(conn, AS_OF)
    next_day = compute_features(conn, AS_OF + timedelta(days=1))
    row = list(at["employee_id"]).index("E07")
    assert at["days_since_recognition"][row] > 1 and next_day["days_since_recognition"][row] == 1


def _value(features, column: str, person: str) -> float:
    return features[column][list(features["employee_id"]).index(person)]


def test_days_since_promotion_counts_from_the_last_promotion_before_the_snapshot(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    features = compute_features(conn, AS_OF)
    assert _value(features, "days_since_promotion", "E06") == (AS_OF.date() - (TODAY - timedelta(days=700))).days
    before_e08s = compute_features(conn, AS_OF - timedelta(days=150))
    assert _value(before_e08s, "days_since_promotion", "E08") == (AS_OF - timedelta(days=150)).date().toordinal() - date(
        2020, 6, 1
    ).toordinal()


def test_someone_never_promoted_counts_from_their_hire_date(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    features = compute_features(conn, AS_OF)
    assert _value(features, "days_since_promotion", "E07") == (AS_OF.date() - date(2020, 6, 1)).days


def test_without_promotion_history_time_since_promotion_is_unknown(conn, tmp_path):
    files = tiny_org()
    del files["promotions.csv"]
    ingest_folder(conn, write_drop(tmp_path / "a", files), IngestOptions(today=TODAY))
    assert np.isnan(compute_features(conn, AS_OF).numeric("days_since_promotion")).all()


@pytest.mark.slow
def test_the_rules_score_ranks_real_leavers_above_stayers_in_the_synthetic_org(conn, tmp_path):
    end = date(2026, 6, 30)
    generate(SynthSpec(employees=3000, months=12, seed=7, end=end), tmp_path / "org")
    ingest_folder(conn, tmp_path / "org", IngestOptions(today=end))
    as_of = datetime(2026, 1, 5)
    features = compute_features(conn, as_of)
    scores = rules_score(features, RuleWeights())
    left = dict(
        conn.execute(
            "select employee_id, exit_reason = 'voluntary' and exit_date < ? from employees",
            [as_of + timedelta(days=180)],
        ).fetchall()
    )
    labels = np.array([bool(left.get(e)) for e in features["employee_id"]])
    assert 0.02 < labels.mean() < 0.2
    assert roc_auc_score(labels, scores.risk) > 0.6


def test_without_learning_history_learning_recency_is_unknown(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))  # the tiny org has no learning file
    assert np.isnan(compute_features(conn, AS_OF).numeric("days_since_learning")).all()


def test_features_computed_in_chunks_of_people_equal_features_computed_at_once(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    as_of = datetime(2026, 11, 1)
    whole = compute_features(conn, as_of)
    chunked = compute_features(conn, as_of, chunk_people=3)  # 7 chunks; teams span them
    assert list(chunked.columns) == list(whole.columns)
    for name, values in whole.columns.items():
        if values.dtype.kind in "biuf":
            np.testing.assert_array_equal(chunked.numeric(name), whole.numeric(name), err_msg=name)
        else:
            assert list(chunked[name]) == list(values), name
    assert whole.numeric("team_size").max() > 3  # a team really was split across chunks
