"""Follow-through in a real store: each kind's signal is found in its window; credit, controls, demotion."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from nudges.catalog import load_catalog
from pipelines.followthrough import (
    check,
    experiment_counts,
    mark_credited,
    pending_credits,
)
from pipelines.store import migrate
from pipelines.weeks import IsoWeek

CATALOG = load_catalog()
WEEK = IsoWeek.parse("2026-W40")
START = WEEK.monday  # 2026-09-28
LATER = WEEK.shift(2)  # the run that checks a 14-day window
INSIDE = datetime.combine(START + timedelta(days=3), datetime.min.time()) + timedelta(hours=10)
BEFORE = datetime.combine(START - timedelta(days=10), datetime.min.time())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(tmp_path / "ft.duckdb"))
    migrate(conn)
    conn.execute(
        "insert into employees values ('M1', 'm1@example.com', 'M1', '2015-01-01', 'active', 'Mo', 'Sales', 'Lead', 'HQ',"
        " null, null, 'e.csv', 2), ('E1', 'e1@example.com', 'M1', '2020-01-01', 'active', 'Ed', 'Sales', 'Rep', 'HQ',"
        " null, null, 'e.csv', 3)"
    )
    # Data for every source (about someone else) reaches the last day of the window: a window
    # without its signal is over, not waiting for data.
    coverage = datetime.combine(LATER.monday, datetime.min.time()) - timedelta(hours=1)
    add(conn, "recognition", "X0", coverage)
    add(conn, "one_on_ones", "X0", coverage, status="cancelled")
    add(conn, "learning", "X0", coverage)
    add(conn, "autonomy_survey", "X0", coverage, item="freedom", score=3)
    yield conn
    conn.close()


def add(conn: duckdb.DuckDBPyConnection, table: str, who: str, when: datetime, **kw: object) -> None:
    if table == "recognition":
        conn.execute("insert into recognition values (?, ?, 'X9', 5, 'app', 'r.csv', 1)", [who, when])
    elif table == "one_on_ones":
        topics = kw.get("topics", [])
        conn.execute(
            "insert into one_on_ones values ('M1', ?, ?, ?, 30, ?, 'o.csv', 1)", [who, when, kw.get("status", "held"), topics]
        )
    elif table == "learning":
        conn.execute("insert into learning values (?, ?, 'course', 'l.csv', 1)", [who, when])
    else:
        conn.execute("insert into autonomy_survey values (?, ?, ?, ?, 's.csv', 1)", [who, when, kw["item"], kw["score"]])


def nudge(conn: duckdb.DuckDBPyConnection, kind: str, week: IsoWeek = WEEK, employee: str = "E1") -> None:
    conn.execute("insert into nudges values (?, 'M1', ?, ?, false, 0.5, now())", [str(week), employee, kind])


def outcome(conn: duckdb.DuckDBPyConnection, kind: str) -> tuple[str, datetime | None]:
    row = conn.execute("select outcome, signal_at from followthrough where kind = ?", [kind]).fetchone()
    assert row is not None
    return row[0], row[1]


def run_check(conn: duckdb.DuckDBPyConnection, at: IsoWeek = LATER) -> None:
    check(conn, at.monday, 14, at, CATALOG.kind)


# The event each kind asks for, inside its window.
SIGNALS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "recognition_gap": [("recognition", {})],
    "give_credit": [("recognition", {})],
    "one_on_one_lapse": [("one_on_ones", {})],
    "career_conversation": [("one_on_ones", {"topics": ["career"]})],
    "stale_goals": [("one_on_ones", {"topics": ["goals"]})],
    "engagement_plan": [("one_on_ones", {"topics": ["goals", "project"]})],
    "growth_investment": [("learning", {})],
    "autonomy_dip": [("autonomy_survey", {"item": "decisions", "score": 4})],
    "voice_dip": [("autonomy_survey", {"item": "voice", "score": 4})],
}


def test_every_catalog_kind_has_a_signal_under_test() -> None:
    assert set(SIGNALS) == {k.id for k in CATALOG.kind}


@pytest.mark.parametrize("kind", sorted(SIGNALS))
def test_the_signal_a_nudge_asked_for_inside_its_window_marks_it_done(store: duckdb.DuckDBPyConnection, kind: str) -> None:
    add(store, "autonomy_survey", "E1", BEFORE, item="decisions", score=2)  # the answers before the nudge
    add(store, "autonomy_survey", "E1", BEFORE, item="voice", score=2)
    for table, extra in SIGNALS[kind]:
        add(store, table, "E1", INSIDE, **extra)
    nudge(store, kind)
    run_check(store)
    assert outcome(store, kind) == ("done", INSIDE)


@pytest.mark.parametrize("kind", sorted(SIGNALS))
def test_without_the_signal_the_window_expires(store: duckdb.DuckDBPyConnection, kind: str) -> None:
    for table, extra in SIGNALS[kind]:
        add(store, table, "E1", BEFORE, **extra)  # before the nudge: does not count
    nudge(store, kind)
    run_check(store)
    assert outcome(store, kind) == ("expired", None)


def test_a_1_1_about_something_else_is_not_a_career_conversation(store: duckdb.DuckDBPyConnection) -> None:
    add(store, "one_on_ones", "E1", INSIDE, topics=["project"])
    nudge(store, "career_conversation")
    run_check(store)
    assert outcome(store, "career_conversation")[0] == "expired"


def test_a_cancelled_1_1_is_not_follow_through(store: duckdb.DuckDBPyConnection) -> None:
    add(store, "one_on_ones", "E1", INSIDE, status="cancelled")
    nudge(store, "one_on_one_lapse")
    run_check(store)
    assert outcome(store, "one_on_one_lapse")[0] == "expired"


def test_a_survey_answer_no_higher_than_before_is_not_a_recovery(store: duckdb.DuckDBPyConnection) -> None:
    add(store, "autonomy_survey", "E1", BEFORE, item="voice", score=3)
    add(store, "autonomy_survey", "E1", INSIDE, item="voice", score=3)
    nudge(store, "voice_dip")
    run_check(store)
    assert outcome(store, "voice_dip")[0] == "expired"


def test_a_window_still_open_is_not_yet(store: duckdb.DuckDBPyConnection) -> None:
    nudge(store, "recognition_gap")
    run_check(store, WEEK.shift(1))  # seven days in, nothing yet
    assert outcome(store, "recognition_gap")[0] == "not_yet"


def test_a_window_whose_data_has_not_arrived_is_not_yet_then_expires_after_the_grace(
    store: duckdb.DuckDBPyConnection,
) -> None:
    store.execute("delete from learning")  # the learning export stopped before the window
    nudge(store, "growth_investment")
    run_check(store)
    assert outcome(store, "growth_investment")[0] == "not_yet"
    run_check(store, LATER.shift(5))  # 35 days after the window closed
    assert outcome(store, "growth_investment")[0] == "expired"


def test_an_outcome_found_early_is_kept_when_checked_again(store: duckdb.DuckDBPyConnection) -> None:
    add(store, "recognition", "E1", INSIDE)
    nudge(store, "recognition_gap")
    run_check(store, WEEK.shift(1))
    assert outcome(store, "recognition_gap")[0] == "done"
    run_check(store, LATER.shift(3))
    assert outcome(store, "recognition_gap") == ("done", INSIDE)


def test_resolved_nudges_are_offered_as_credit_once(store: duckdb.DuckDBPyConnection) -> None:
    add(store, "one_on_ones", "E1", INSIDE)
    nudge(store, "one_on_one_lapse")
    run_check(store)
    credits = pending_credits(store, LATER)
    assert [(r.kind, r.done, r.total) for r in credits["M1"]] == [("one_on_one_lapse", 1, 1)]
    mark_credited(store, LATER, ["M1"])
    assert pending_credits(store, LATER.shift(1)) == {}


def test_credit_waits_until_every_nudge_of_that_digest_is_resolved(store: duckdb.DuckDBPyConnection) -> None:
    store.execute(
        "insert into employees values ('E2', 'e2@example.com', 'M1', '2020-01-01', 'active', 'Di', 'Sales', 'Rep',"
        " 'HQ', null, null, 'e.csv', 4)"
    )
    add(store, "one_on_ones", "E1", INSIDE)
    nudge(store, "one_on_one_lapse", employee="E1")
    nudge(store, "one_on_one_lapse", employee="E2")
    run_check(store, WEEK.shift(1))  # E1 done, E2's window still open
    assert pending_credits(store, WEEK.shift(1)) == {}
    run_check(store)
    assert [(r.done, r.total) for r in pending_credits(store, LATER)["M1"]] == [(1, 2)]


def test_control_and_nudged_outcomes_are_counted_apart(store: duckdb.DuckDBPyConnection) -> None:
    from pipelines.followthrough import record_assignments, record_controls

    add(store, "recognition", "E1", INSIDE)
    nudge(store, "recognition_gap")
    record_controls(store, WEEK, [("M1", "recognition_gap")], 14)
    record_assignments(store, WEEK, [("E1", "recognition_gap", "nudged"), ("M1", "recognition_gap", "control")])
    run_check(store)
    counts, first = experiment_counts(store, date(2027, 6, 1), horizon_days=90)
    (row,) = counts
    assert row.recovered == {"nudged": (1, 1), "control": (0, 1)}
    assert row.exits == {"nudged": (0, 1), "control": (0, 1)}
    assert first == WEEK.monday
