"""One weekly run, one stage sequence: follow-through -> features -> score -> select -> render
-> record -> deliver -> report.

`run_week` is the sequence. The CLI calls it as is; the Prefect flow calls the same
function with a `StageCall` that runs each stage as its task and its own batch
renderer, so the two can never run different stages or a different order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import cast

import duckdb

from core.db import (
    transaction,
    utcnow,
)
from nudges.delivery.files import FilesReport, deliver_files
from nudges.delivery.send import send_pending
from nudges.followthrough import demotions
from pipelines import options
from pipelines.followthrough import (
    check,
    demoted_now,
    overall_rates,
    record_demotions,
)
from pipelines.hr_report import write_report
from pipelines.privacy.retention import apply_data_rules
from pipelines.settings import Settings
from pipelines.weekly.plan import (
    WeekPlan,
    active_kinds,
    features_stage,
    scoring_stage,
    selection_stage,
)
from pipelines.weekly.record import (
    WeeklyReport,
    fail_run,
    record_run,
    start_run,
    summarise,
)
from pipelines.weekly.render import render_and_enqueue
from pipelines.weekly.stage import StageCall, announced, call_directly
from pipelines.weeks import IsoWeek

log = logging.getLogger("retention.weekly")


@announced("follow-through")
def followthrough_stage(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: IsoWeek, report: WeeklyReport
) -> None:
    """Check earlier nudges' outcomes as of this week's Monday, then let the catalog demote or
    restore kinds on their recent follow-through (logged and stored as decisions)."""
    catalog, _ = active_kinds(settings)
    kinds = catalog.by_id()
    with transaction(conn):
        checked = check(conn, week.monday, settings.followthrough.days, week, catalog.kind)
        rates = overall_rates(conn, kinds, week.monday - timedelta(weeks=settings.catalog.demote_weeks))
        changes = demotions(
            rates, demoted_now(conn), floor=settings.catalog.demote_below, min_resolved=settings.catalog.demote_min_resolved
        )
        record_demotions(conn, week, changes)
    report.followthrough_done, report.followthrough_expired = checked.done, checked.expired
    report.followthrough_open = checked.open
    report.demotions = [f"{c.kind} {c.action}" for c in changes]
    for c in changes:
        log.info("week %s: catalog kind %s %s (follow-through %s of %d resolved, floor %s)", week, c.kind, c.action,
                 f"{c.rate:.0%}" if c.rate is not None else "n/a", c.resolved, c.floor)

@announced("deliver")
def deliver_week(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: IsoWeek, report: WeeklyReport
) -> FilesReport | None:
    """Files mode writes the week's outbox folder; SMTP mode sends what is waiting for the week."""
    report.delivery_mode = settings.delivery.mode
    if settings.delivery.mode == "files":
        return deliver_files(conn, str(week), settings.delivery.outbox_dir)
    report.delivery = dict(send_pending(conn, options.send_options(settings), week=str(week)).states)
    return None

@announced("report")
def finish_run(
    conn: duckdb.DuckDBPyConnection,
    plan: WeekPlan,
    settings: Settings,
    report: WeeklyReport,
    files: FilesReport | None,
) -> WeeklyReport:
    """Counts, the HR summary, and the run marked completed."""
    summarise(conn, report, plan, files)
    report.hr_summary = str(write_report(conn, plan, settings).html_path)
    conn.execute(
        "update runs set status = 'completed', finished_at = ?, summary = ? where run_id = ?",
        [utcnow(), report.as_json(), report.run_id],
    )
    log.info(
        "week %s run %s: %d people, %d stars, %d flagged, %d digests queued (%d already), %d nudges",
        report.week, report.run_id, report.people, report.stars, report.stars_flagged,
        report.digests_new, report.digests_existing, report.nudges,
    )
    return report

RenderStep = Callable[[duckdb.DuckDBPyConnection, WeekPlan, Settings, WeeklyReport], None]


def run_week(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    week: IsoWeek,
    *,
    stage: StageCall = call_directly,
    render: RenderStep = render_and_enqueue,
) -> WeeklyReport:
    """Score, select, render, enqueue and deliver one ISO week; safe to re-run.

    The one stage sequence. `stage` runs each step (the flow: as a Prefect task) and
    `render` renders and queues the digests (the flow: batches on its task runner).
    """
    report = start_run(conn, week)
    try:
        apply_data_rules(conn, settings)  # purge events past [retention] keep_days, sync the opt-out file
        stage("follow-through", followthrough_stage, conn, settings, week, report)
        features, attributes = stage("features", features_stage, conn, settings, week)
        stars, scores = stage("score", scoring_stage, features, settings, attributes)
        plan = stage("select", selection_stage, conn, settings, week, features, stars, scores)
        render(conn, plan, settings, report)
        stage("record", record_run, conn, plan, report)
        files = stage("deliver", deliver_week, conn, settings, week, report)
        return cast(WeeklyReport, stage("report", finish_run, conn, plan, settings, report, files))
    except BaseException:
        fail_run(conn, report)
        raise
