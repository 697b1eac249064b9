"""Follow-through, credit and the control group through the real weekly run on the 20-person org."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.settings import Settings
from pipelines.store import open_store
from pipelines.weekly.run import run_week
from pipelines.weeks import IsoWeek
from tests.conftest import TODAY, WEEK, csv_text, tiny_org, write_drop
from tests.test_weekly import parts, read_eml, settings_for

LATER = IsoWeek.parse(WEEK).shift(2)  # 2026-W50: the first run that checks W48's 14-day windows
CREDIT = "You made time to plan the months ahead with the person you meant to."


@pytest.fixture
def store(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_store(tmp_path / "r.duckdb") as conn:  # the store settings_for points at
        yield conn


def first_week(conn: duckdb.DuckDBPyConnection, tmp_path: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    drop = write_drop(tmp_path / "drop", tiny_org())
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    run_week(conn, settings, IsoWeek.parse(WEEK))
    return conn


def two_weeks_later(conn: duckdb.DuckDBPyConnection, tmp_path: Path, rows: list[list[object]]) -> None:
    """A new 1:1 export arrives; someone else's cancelled 1:1 on the Sunday shows the data is current."""
    rows = [*rows, ["E02", "E06", "2026-12-06 10:00:00", "cancelled", 30, ""]]
    drop = write_drop(
        tmp_path / "drop",
        {"one_on_ones/later.csv": csv_text(["manager_id", "employee_id", "scheduled_at", "status", "duration_min", "topics"], rows)},
    )
    ingest_folder(conn, drop, IngestOptions(today=date(2026, 12, 7)))


def test_a_manager_who_followed_through_gets_one_line_of_credit_next_time(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, nudges={"all_clear": True})
    conn = first_week(store, tmp_path, settings)
    # E05's engagement plan went to E02 in W48; the plan conversation happened three days later.
    two_weeks_later(conn, tmp_path, [["E02", "E05", "2026-11-26 10:00:00", "held", 60, "career;goals"]])
    report = run_week(conn, settings, LATER)
    assert report.followthrough_done == 1 and report.credit_lines == 1
    text, html = parts(read_eml(tmp_path / "outbox" / str(LATER) / "E02.eml"))
    assert CREDIT in text and CREDIT in html
    intro = min(i for i in (text.find("A few small things"), text.find("Nothing stands out")) if i >= 0)
    assert text.index(CREDIT) < intro  # it opens the digest
    # Managers whose nudges went unanswered get no line.
    other, _ = parts(read_eml(tmp_path / "outbox" / str(LATER) / "E03.eml"))
    assert "you planned to" not in other and "you meant to" not in other
    outcomes = dict(conn.execute("select employee_id, outcome from followthrough").fetchall())
    assert outcomes["E05"] == "done" and outcomes["E10"] == "expired"


def test_credit_is_given_once(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, nudges={"all_clear": True})
    conn = first_week(store, tmp_path, settings)
    two_weeks_later(conn, tmp_path, [["E02", "E05", "2026-11-26 10:00:00", "held", 60, "career"]])
    run_week(conn, settings, LATER)
    report = run_week(conn, settings, LATER.shift(1))
    assert report.credit_lines == 0
    text, _ = parts(read_eml(tmp_path / "outbox" / str(LATER.shift(1)) / "E02.eml"))
    assert CREDIT not in text


def test_rerunning_a_week_keeps_its_credit_and_sends_nothing_twice(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, nudges={"all_clear": True})
    conn = first_week(store, tmp_path, settings)
    two_weeks_later(conn, tmp_path, [["E02", "E05", "2026-11-26 10:00:00", "held", 60, "career"]])
    run_week(conn, settings, LATER)
    again = run_week(conn, settings, LATER)
    assert again.digests_new == 0 and again.credit_lines == 0
    text, _ = parts(read_eml(tmp_path / "outbox" / str(LATER) / "E02.eml"))
    assert CREDIT in text


def test_controls_are_withheld_from_digests_and_keep_their_arm_across_runs(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, experiment={"holdout_share": 0.5, "seed": 4})
    conn = first_week(store, tmp_path, settings)
    arms = dict(conn.execute("select employee_id || '/' || kind, arm from assignments").fetchall())
    assert "control" in arms.values() and "nudged" in arms.values()
    controls = [k.split("/")[0] for k, a in arms.items() if a == "control"]
    named = conn.execute("select employee_id from nudges").fetchall()
    assert not set(controls) & {r[0] for r in named}
    decided = dict(conn.execute("select employee_id, outcome from decisions").fetchall())
    assert all(decided[c] == "control" for c in controls)
    # A later run with another share and seed never moves anyone between arms.
    changed = settings_for(tmp_path, experiment={"holdout_share": 0.0, "seed": 99})
    run_week(conn, changed, IsoWeek.parse(WEEK).shift(8))
    after = dict(conn.execute("select employee_id || '/' || kind, arm from assignments").fetchall())
    assert {k: after[k] for k in arms} == arms


def test_the_hr_summary_reports_follow_through_and_the_control_group(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, nudges={"all_clear": True}, report={"dir": tmp_path / "reports", "min_group_size": 2})
    conn = first_week(store, tmp_path, settings)
    two_weeks_later(conn, tmp_path, [["E02", "E05", "2026-11-26 10:00:00", "held", 60, "career"]])
    report = run_week(conn, settings, LATER)
    summary = (Path(report.hr_summary).with_suffix(".json")).read_text(encoding="utf-8")
    import json

    ft = json.loads(summary)["followthrough"]
    assert ft["by_kind"] == [{"label": "engagement_plan", "done": 1, "resolved": 4, "pending": 0, "rate": 0.25}]
    html = Path(report.hr_summary).read_text(encoding="utf-8")
    assert "Follow-through by nudge kind" in html and "No control group" in html


def test_a_kind_whose_nudges_keep_not_landing_is_demoted_and_logged_as_a_decision(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, catalog={"demote_below": 0.5, "demote_min_resolved": 4})
    conn = first_week(store, tmp_path, settings)
    two_weeks_later(conn, tmp_path, [["E02", "E05", "2026-11-26 10:00:00", "held", 60, "career"]])  # 1 of 4
    report = run_week(conn, settings, LATER)
    assert report.demotions == ["engagement_plan demoted"]
    row = conn.execute("select kind, action, rate, resolved, floor from catalog_decisions").fetchone()
    assert row == ("engagement_plan", "demoted", 0.25, 4, 0.5)
    # Ranked last from now on: people it fired for get their next-best kind instead.
    later = run_week(conn, settings, LATER.shift(14))
    assert later.nudges and "engagement_plan" not in later.nudges_by_kind


def test_without_a_floor_nothing_is_demoted(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    conn = first_week(store, tmp_path, settings)
    two_weeks_later(conn, tmp_path, [])
    report = run_week(conn, settings, LATER)
    assert report.demotions == []
    assert conn.execute("select count(*) from catalog_decisions").fetchone() == (0,)
