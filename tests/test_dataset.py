"""Training rows: point-in-time features, forward-looking labels, censoring."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import transaction
from models.dataset import label_frame, monthly_snapshots, training_set
from models.features import snapshot_frame
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.store import connect
from tests.conftest import TODAY, tiny_org, write_drop

SNAPSHOT = datetime(2026, 9, 1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    root = tmp_path_factory.mktemp("tiny")
    conn = connect(root / "r.duckdb")
    ingest_folder(conn, write_drop(root / "d", tiny_org()), IngestOptions(today=TODAY))
    yield conn
    conn.close()


def frame_at(conn: duckdb.DuckDBPyConnection, when: datetime) -> pd.DataFrame:
    return snapshot_frame(conn, [when]).sort_values("employee_id").reset_index(drop=True)


later = st.integers(min_value=0, max_value=400).map(lambda d: SNAPSHOT + timedelta(days=d, minutes=1))
people = st.sampled_from([f"E{n:02d}" for n in range(2, 21)])
events = st.lists(
    st.one_of(
        st.tuples(st.just("recognition"), people, later),
        st.tuples(st.just("one_on_ones"), people, later),
        st.tuples(st.just("autonomy_survey"), people, later),
        st.tuples(st.just("learning"), people, later),
        st.tuples(st.just("performance"), people, later),
        st.tuples(st.just("promotions"), people, later),
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(added=events)
def test_events_after_a_snapshot_never_change_its_features(tiny, added):
    before = frame_at(tiny, SNAPSHOT)
    tiny.execute("begin transaction")
    try:
        for table, person, when in added:
            if table == "recognition":
                tiny.execute("insert into recognition values (?, ?, 'E01', 5, 'x', 'f', 1)", [person, when])
            elif table == "one_on_ones":
                tiny.execute("insert into one_on_ones values ('E02', ?, ?, 'held', 30, ['career'], 'f', 1)", [person, when])
            elif table == "autonomy_survey":
                tiny.execute("insert into autonomy_survey values (?, ?, 'freedom', 1, 'f', 1)", [person, when])
            elif table == "learning":
                tiny.execute("insert into learning values (?, ?, 'course', 'f', 1)", [person, when])
            elif table == "promotions":
                tiny.execute("insert into promotions values (?, ?, 'f', 1)", [person, when.date() + timedelta(days=1)])
            else:
                tiny.execute("insert into performance values (?, ?, 1.0, 'f', 1)", [person, when.date() + timedelta(days=1)])
        after = frame_at(tiny, SNAPSHOT)
    finally:
        tiny.execute("rollback")
    pd.testing.assert_frame_equal(before, after)


def test_involuntary_exits_are_not_positives(tiny):
    frame = pd.DataFrame({"employee_id": ["E04", "E05"], "as_of": [datetime(2026, 9, 1)] * 2})
    assert label_frame(tiny, frame, 180).tolist() == [1, 0]  # E04 left voluntarily in October
    with transaction(tiny):
        tiny.execute("update employees set exit_reason = 'involuntary' where employee_id = 'E04'")
        involuntary = label_frame(tiny, frame, 180).tolist()
        tiny.execute("update employees set exit_reason = 'voluntary' where employee_id = 'E04'")
    assert involuntary == [0, 0]


def test_an_exit_after_the_horizon_is_not_a_positive(tiny):
    frame = pd.DataFrame({"employee_id": ["E04"], "as_of": [datetime(2026, 3, 1)]})
    assert label_frame(tiny, frame, 180).tolist() == [0]  # left ~8.5 months later


def test_snapshots_whose_horizon_runs_past_the_data_are_censored(tiny):
    data = training_set(tiny, horizon_days=120)
    end = data.data_end
    assert all(s + timedelta(days=120) <= end for s in data.snapshots)
    assert data.censored and all(s + timedelta(days=120) > end for s in data.censored)
    assert set(pd.to_datetime(data.frame["as_of"]).dt.to_pydatetime()) <= set(data.snapshots)


def test_monthly_snapshots_fall_on_the_first_of_each_month():
    got = monthly_snapshots(datetime(2026, 1, 15), datetime(2026, 4, 1))
    assert got == [datetime(2026, 2, 1), datetime(2026, 3, 1), datetime(2026, 4, 1)]


def test_a_person_appears_once_per_snapshot_while_employed(tiny):
    frame = snapshot_frame(tiny, [datetime(2026, 6, 1), datetime(2026, 11, 1)])
    counts = frame.groupby("as_of")["employee_id"].nunique().to_numpy()
    assert np.array_equal(counts, frame.groupby("as_of").size().to_numpy())
    assert "E04" in set(frame[frame.as_of == datetime(2026, 6, 1)].employee_id)
    assert "E04" not in set(frame[frame.as_of == datetime(2026, 11, 1)].employee_id)
