"""What a run writes about itself: the `runs` row, decisions, nudges, managers and the week's counts.

`WeeklyReport` holds counts only, so it is safe to print, log and store.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from core.contract import SOURCES
from core.db import (
    fetch_one,
    fetch_value,
    transaction,
    utcnow,
)
from core.errors import StoreError
from models.features import Features
from models.score import Scores
from models.stars import flagged
from nudges.delivery.files import FilesReport
from nudges.select import Selection
from pipelines.followthrough import (
    record_assignments,
    record_controls,
)
from pipelines.weekly.plan import WeekPlan
from pipelines.weekly.queries import current_managers
from pipelines.weeks import IsoWeek

log = logging.getLogger("retention.weekly")


@dataclass
class WeeklyReport:
    """Counts only: safe to print, log and store."""

    run_id: str
    week: str
    score_method: str = "rules"
    score_note: str = ""
    people: int = 0
    stars: int = 0
    stars_flagged: int = 0
    nudges: int = 0
    nudges_by_kind: dict[str, int] = field(default_factory=dict)
    managers_emailed: int = 0
    digests_new: int = 0
    digests_existing: int = 0
    digests_skipped: int = 0
    files_written: int = 0
    outbox_folder: str = ""
    quarantined_rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    hr_summary: str = ""
    delivery_mode: str = "files"  # files: digests written to the outbox folder; smtp: sent
    delivery: dict[str, int] = field(default_factory=dict)  # SMTP outcome -> digests, this run
    followthrough_done: int = 0  # nudges whose signal appeared, found by this run
    followthrough_expired: int = 0
    followthrough_open: int = 0
    controls: int = 0  # nudges withheld this week as the control group
    credit_lines: int = 0  # digests opening with credit for following through
    demotions: list[str] = field(default_factory=list)  # "kind demoted|restored"
    empty_sources: list[str] = field(default_factory=list)  # required sources the store holds no rows of

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

@dataclass(frozen=True)
class WeekStats:
    """Aggregates only: what the HR summary tracks week over week."""

    method: str
    people: int
    stars: int
    flagged: int
    mean_risk: float | None

def week_stats(features: Features, scores: Scores, stars: np.ndarray, threshold: float) -> WeekStats:
    risk = np.asarray(scores.risk, dtype=np.float64)
    return WeekStats(
        method=scores.method,
        people=len(features),
        stars=int(stars.sum()),
        flagged=int(flagged(stars, risk, threshold).sum()),
        mean_risk=float(np.nanmean(risk)) if len(risk) else None,
    )

def start_run(conn: duckdb.DuckDBPyConnection, week: IsoWeek) -> WeeklyReport:
    """Check there is something to score and record that a run of the week began."""
    if not fetch_value(conn, "select count(*) from employees"):
        raise StoreError("the store holds no employees yet: run `retention ingest DIR` (or `retention demo`) first")
    report = WeeklyReport(run_id=uuid.uuid4().hex, week=str(week))
    conn.execute(
        "insert into runs values (?, 'weekly', ?, ?, null, 'running', null)", [report.run_id, str(week), utcnow()]
    )
    return report

def record_run(conn: duckdb.DuckDBPyConnection, plan: WeekPlan, report: WeeklyReport) -> None:
    """Every decision (HR's audit trail), everyone's current manager (to notice a change next
    week) and the week's aggregates, in one transaction. The first run of a week writes them;
    a re-run keeps them."""
    stats = week_stats(plan.features, plan.scores, plan.stars, plan.threshold)
    with transaction(conn):
        record_week(conn, str(plan.week), plan.selection, current_managers(conn), stats)
        record_assignments(conn, plan.week, plan.selection.assignments())
        record_controls(conn, plan.week, plan.selection.controls, plan.followthrough_days)

def record_week(
    conn: duckdb.DuckDBPyConnection,
    week: str,
    selection: Selection,
    managers: Mapping[str, str | None],
    stats: WeekStats,
) -> None:
    now = utcnow()
    decisions = selection.decisions
    batch = pa.table(
        {
            "week": pa.array([week] * len(decisions), type=pa.string()),
            "employee_id": pa.array([d.employee_id for d in decisions], type=pa.string()),
            "kind": pa.array([d.kind for d in decisions], type=pa.string()),
            "outcome": pa.array([d.outcome for d in decisions], type=pa.string()),
            "reason": pa.array([d.reason for d in decisions], type=pa.string()),
            "recipient_id": pa.array([d.recipient_id for d in decisions], type=pa.string()),
            "skip_level": pa.array([d.skip_level for d in decisions], type=pa.bool_()),
        }
    )
    roster = pa.table(
        {
            "week": pa.array([week] * len(managers), type=pa.string()),
            "employee_id": pa.array(list(managers), type=pa.string()),
            "manager_id": pa.array(list(managers.values()), type=pa.string()),
        }
    )
    conn.register("_decisions", batch)
    conn.register("_roster", roster)
    try:
        conn.execute("insert into decisions select *, ? from _decisions on conflict do nothing", [now])
        conn.execute("insert into manager_history select * from _roster on conflict do nothing")
    finally:
        conn.unregister("_decisions")
        conn.unregister("_roster")
    conn.execute(
        "insert into week_stats values (?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
        [week, stats.method, stats.people, stats.stars, stats.flagged, stats.mean_risk, now],
    )

def record_nudges(conn: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str, str, bool, float]]) -> None:
    """The cooldown history and HR's audit trail of what was sent to whom."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    batch = pa.table(
        {
            "week": list(columns[0]),
            "manager_id": list(columns[1]),
            "employee_id": list(columns[2]),
            "kind": list(columns[3]),
            "skip_level": pa.array(columns[4], type=pa.bool_()),
            "priority": pa.array(columns[5], type=pa.float64()),
        }
    )
    conn.register("_nudge_batch", batch)
    try:
        conn.execute("insert into nudges select *, ? from _nudge_batch on conflict do nothing", [utcnow()])
    finally:
        conn.unregister("_nudge_batch")

def fail_run(conn: duckdb.DuckDBPyConnection, report: WeeklyReport) -> None:
    conn.execute("update runs set status = 'failed', finished_at = ? where run_id = ?", [utcnow(), report.run_id])

def summarise(
    conn: duckdb.DuckDBPyConnection, report: WeeklyReport, plan: WeekPlan, files: FilesReport | None
) -> None:
    """The run's counts: the plan's (the same `week_stats` the store keeps) and what the store now holds."""
    stats = week_stats(plan.features, plan.scores, plan.stars, plan.threshold)
    report.score_method = stats.method
    report.controls = len(plan.selection.controls)
    report.people, report.stars, report.stars_flagged = stats.people, stats.stars, stats.flagged
    report.score_note = plan.scores.note
    row = fetch_one(
        conn,
        "select count(*), coalesce(sum(nudge_count), 0) from outbox where week = ? and nudge_count > 0",
        [report.week],
    )
    report.managers_emailed, report.nudges = (int(row[0]), int(row[1])) if row else (0, 0)
    by_kind = conn.execute("select kind, count(*) from nudges where week = ? group by 1 order by 1", [report.week])
    report.nudges_by_kind = {k: int(n) for k, n in by_kind.fetchall()}
    report.skipped = dict(Counter(d.reason for d in plan.selection.decisions if d.outcome == "skipped"))
    report.quarantined_rows = int(fetch_value(conn, "select count(*) from quarantine") or 0)
    report.empty_sources = [
        s.name for s in SOURCES if s.required and not fetch_value(conn, f"select exists (select 1 from {s.name})")
    ]
    if files is not None:
        report.files_written = files.written
        report.outbox_folder = str(Path(files.folder))
