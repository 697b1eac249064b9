"""Render the week's digests in batches and queue them with their nudges.

Rendering needs no store (a batch may run on any worker); queueing is one transaction
per batch in this process, the only writer.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from core.db import (
    few_checkpoints,
    transaction,
)
from nudges.batches import RenderedBatch, RenderJob, plan_jobs, render_job
from nudges.delivery.outbox import enqueue, queued_managers
from nudges.followthrough import credit_line
from nudges.render import Contact, Digest, render_digest
from nudges.select import Pick
from pipelines import options
from pipelines.followthrough import (
    mark_credited,
    pending_credits,
)
from pipelines.settings import Settings
from pipelines.weekly.plan import WeekPlan
from pipelines.weekly.queries import active_managers, load_contacts, load_departments
from pipelines.weekly.record import WeeklyReport, record_nudges
from pipelines.weekly.stage import announced, stage_log
from pipelines.weeks import IsoWeek

log = logging.getLogger("retention.weekly")


def render_jobs(conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, report: WeeklyReport) -> list[RenderJob]:
    """The week's digests to make, in batches (and all-clear notes if configured).

    Managers whose digest for the week is already queued are left alone: their
    message exists, and a re-run must not make a different one.
    """
    already = queued_managers(conn, str(plan.week))
    grouped: dict[str, list[Pick]] = plan.selection.by_recipient()
    report.digests_existing = len(already & set(grouped))
    if settings.nudges.all_clear:
        for manager_id in active_managers(conn):
            grouped.setdefault(manager_id, [])
    for manager_id in already:
        grouped.pop(manager_id, None)
    contacts = load_contacts(conn, set(grouped) | {p.employee_id for picks in grouped.values() for p in picks})
    by = settings.flows.partition_by
    departments = load_departments(conn, grouped) if by == "department" else {}
    kinds = plan.catalog.by_id()
    credits = {
        manager: line
        for manager, resolved in pending_credits(conn, plan.week).items()
        if manager in grouped and (line := credit_line(resolved, kinds))
    }
    return plan_jobs(
        str(plan.week), grouped, contacts, departments, by=by, size=settings.flows.batch_size, credits=credits
    )

def render_batch(job: RenderJob, plan: WeekPlan, settings: Settings) -> RenderedBatch:
    """One batch's digests and message bytes: no store, so it may run on any worker."""
    return render_job(job, plan.catalog.by_id(), options.identity(settings), plan.threshold)

def enqueue_batch(conn: duckdb.DuckDBPyConnection, batch: RenderedBatch, report: WeeklyReport) -> None:
    """Queue a batch's digests with their nudges (the cooldown history), in one transaction."""
    for manager_id, reason in batch.skipped:
        log.warning("week %s: digest for manager %s skipped: %s", report.week, manager_id, reason)
    report.digests_skipped += len(batch.skipped)
    with transaction(conn):
        report.digests_new += enqueue(conn, batch.messages)
        record_nudges(conn, batch.nudges)
        mark_credited(conn, IsoWeek.parse(report.week), batch.credited)
    report.credit_lines += len(batch.credited)

@announced("render")
def render_and_enqueue(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, report: WeeklyReport
) -> None:
    """Batch by batch in this process; the flow does the same with batches on its task runner."""
    with steady_heap(), few_checkpoints(conn):
        jobs = render_jobs(conn, plan, settings, report)
        for number, job in enumerate(jobs, start=1):
            stage_log.info("render: batch %d of %d", number, len(jobs), extra={"stage": "render"})
            enqueue_batch(conn, render_batch(job, plan, settings), report)

@contextmanager
def steady_heap() -> Iterator[None]:
    """Keep the garbage collector off the week's plan while digests render.

    The plan holds millions of long-lived objects; rendering allocates fast, and
    every full collection would walk them all (a fifth of render time at 100k).
    gc.freeze() sets them aside until the batches are done.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()

def render_one(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, manager_id: str
) -> Digest | None:
    """One manager's digest as the plan would make it (for previews); None when they would get none."""
    picks = plan.selection.by_recipient().get(manager_id, [])
    if not picks and not (settings.nudges.all_clear and manager_id in active_managers(conn)):
        return None
    contacts = load_contacts(conn, {manager_id, *(p.employee_id for p in picks)})
    return render_digest(
        week=str(plan.week),
        manager=contacts.get(manager_id, Contact(manager_id, None, None)),
        picks=picks,
        kinds=plan.catalog.by_id(),
        contacts=contacts,
        identity=options.identity(settings),
        threshold=plan.threshold,
    )
