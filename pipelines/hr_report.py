"""Gather the HR summary's inputs from the store and a week's plan, then write it.

`nudges.report` and `nudges.suppression` decide what may be shown (pooling, suppression); this module
only reads aggregates from DuckDB and writes `<report dir>/<week>/hr-summary.json`
and `.html`. What was sent comes from the store (the week's outbox, nudges and
decisions); `retention report` refuses a week that has not run (`check_week_ran`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from core.contract import EMPLOYEES, SOURCES
from core.db import fetch_value
from core.errors import StoreError
from core.files import atomic_write
from nudges.report import (
    ExperimentCounts,
    FollowthroughInputs,
    ReportInputs,
    SourceFreshness,
    build_summary,
    summary_html,
)
from pipelines.followthrough import demoted_now, experiment_counts, rates_by
from pipelines.settings import Settings
from pipelines.weekly.plan import WeekPlan

SUMMARY_NAME = "hr-summary"


@dataclass(frozen=True)
class WrittenReport:
    json_path: Path
    html_path: Path
    summary: dict[str, Any]


def freshness(conn: duckdb.DuckDBPyConnection) -> list[SourceFreshness]:
    """Newest event, last ingest and row count per source (the roster's newest event is its newest hire)."""
    found = []
    for source in SOURCES:
        column = source.event_time or ("hire_date" if source.name == EMPLOYEES.name else None)
        latest = (
            fetch_value(conn, f"select cast(max({column}) as date) from {source.name}")  # names from our contract
            if column
            else None
        )
        ingested = fetch_value(conn, "select max(ingested_at) from ingested_files where source = ?", [source.name])
        rows = int(fetch_value(conn, f"select count(*) from {source.name}") or 0)
        found.append(SourceFreshness(source.name, latest, ingested, rows))
    return found


def active_manager_count(conn: duckdb.DuckDBPyConnection) -> int:
    """Active managers with at least one report still here: who could get a digest."""
    return int(
        fetch_value(
            conn,
            "select count(distinct m.employee_id) from employees e join employees m on e.manager_id = m.employee_id"
            " where m.status = 'active' and e.status <> 'left' and e.employee_id <> m.employee_id",
        )
        or 0
    )


def quarantine_counts(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    rows = conn.execute(
        "select source, reason, count(*) from quarantine group by 1, 2 order by 1, 3 desc, 2"
    ).fetchall()
    return [(str(s), str(r), int(n)) for s, r, n in rows]


def model_card(settings: Settings, method: str) -> dict[str, Any] | None:
    """The card of the model in use (none when the rules score was used)."""
    path = Path(settings.model.dir) / "card.json"
    if method != "model" or not path.is_file():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def report_inputs(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, *, now: datetime | None = None
) -> ReportInputs:
    week = str(plan.week)
    features, scores = plan.features, plan.scores
    departments = features["department"] if "department" in features.columns else np.full(len(features), None)
    nudges = conn.execute("select kind, count(*) from nudges where week = ? group by 1", [week]).fetchall()
    skipped = conn.execute(
        "select reason, count(*) from decisions where week = ? and outcome = 'skipped' group by 1", [week]
    ).fetchall()
    emailed = fetch_value(conn, "select count(*) from outbox where week = ? and nudge_count > 0", [week])
    history = conn.execute(
        "select week, mean_risk from week_stats where week < ? and mean_risk is not null order by week", [week]
    ).fetchall()
    return ReportInputs(
        week=week,
        generated_at=now or datetime.now(UTC).replace(microsecond=0),
        min_group_size=settings.report.min_group_size,
        threshold=plan.threshold,
        score_method=scores.method,
        score_note=scores.note,
        departments=[str(d) if d is not None else None for d in departments],  # type: ignore[misc]
        risks=np.asarray(scores.risk, dtype=np.float64),
        stars=np.asarray(plan.stars, dtype=bool),
        nudges_by_kind={str(k): int(n) for k, n in nudges},
        managers_total=active_manager_count(conn),
        managers_emailed=int(emailed or 0),
        skipped_by_reason={str(r): int(n) for r, n in skipped},
        freshness=freshness(conn),
        quarantine=quarantine_counts(conn),
        model_card=model_card(settings, scores.method),
        mean_risk_history=[(str(w), float(m)) for w, m in history],
        followthrough=followthrough_inputs(conn, plan, settings),
        delivery_mode=settings.delivery.mode,
        kind_titles={k.id: k.title for k in plan.catalog.kind},
    )


def followthrough_inputs(conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings) -> FollowthroughInputs:
    """Follow-through counts as of the week, and the control group's comparison (counts only)."""
    today = plan.week.monday
    counts, first = experiment_counts(conn, today, settings.experiment.exit_horizon_days)
    changes = conn.execute("select kind, action from catalog_decisions where week = ? order by kind", [str(plan.week)])
    return FollowthroughInputs(
        days=settings.followthrough.days,
        by_kind=rates_by(conn, "kind"),
        by_department=rates_by(conn, "department"),
        demoted=sorted(demoted_now(conn)),
        changes=[(str(k), str(a)) for k, a in changes.fetchall()],
        holdout_share=settings.experiment.holdout_share,
        experiment=[ExperimentCounts(c.kind, c.recovered, c.exits) for c in counts],
        weeks_running=max(0, (today - first).days // 7) if first else 0,
        exit_horizon_days=settings.experiment.exit_horizon_days,
        max_half_width=settings.experiment.max_half_width,
        exit_max_half_width=settings.experiment.exit_max_half_width,
    )


def weeks_run(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The ISO weeks with a completed weekly run, oldest first."""
    rows = conn.execute("select distinct week from runs where kind = 'weekly' and status = 'completed' order by 1")
    return [str(r[0]) for r in rows.fetchall()]


def check_week_ran(conn: duckdb.DuckDBPyConnection, week: str) -> None:
    """A summary of a week that never ran would read as a week where nothing was sent: refuse it."""
    done = weeks_run(conn)
    if week in done:
        return
    if not done:
        raise StoreError(f"no weekly run has completed yet, so there is no summary for {week}: run `retention run` first")
    shown = ", ".join(done[-8:]) + (f" (and {len(done) - 8} earlier)" if len(done) > 8 else "")
    raise StoreError(
        f"week {week} has not been run, so there is nothing to summarise; weeks run: {shown}."
        f" Run `retention run --week {week}` first, or pick one of those"
    )


def write_report(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, *, now: datetime | None = None
) -> WrittenReport:
    """Build the week's HR summary and write it as JSON and HTML (atomically, replacing older ones)."""
    summary = build_summary(report_inputs(conn, plan, settings, now=now))
    folder = Path(settings.report.dir) / str(plan.week)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / f"{SUMMARY_NAME}.json", folder / f"{SUMMARY_NAME}.html"
    atomic_write(json_path, (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    atomic_write(html_path, summary_html(summary).encode("utf-8"))
    return WrittenReport(json_path, html_path, summary)
