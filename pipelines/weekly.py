"""One weekly run as plain stages: features -> score -> select -> render -> enqueue -> deliver.

Each stage is a function with typed input and output so Prefect tasks (and
later the trained model) can wrap or replace one without touching the rest.
This module is the edge that turns settings into the plain policies below it.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from core.contract import SOURCES
from core.db import (
    fetch_one,
    fetch_value,
    few_checkpoints,
    release_memory,
    transaction,
    utcnow,
    with_ids,
)
from core.errors import ConfigError, StoreError
from models.dataset import attributes_frame, feature_list
from models.drivers import Healthy
from models.features import Features, compute_features
from models.persist import warm_up
from models.rules import RuleWeights, rules_score
from models.score import Scores, model_scores, usable_model
from models.stars import StarRule, star_mask
from nudges.batches import RenderedBatch, RenderJob, plan_jobs, render_job
from nudges.catalog import Catalog, NudgeKind, load_catalog
from nudges.experiment import arm_for
from nudges.followthrough import credit_line, demotions
from nudges.outbox import FilesReport, deliver_files, enqueue, queued_managers
from nudges.render import Contact, Digest, Identity, render_digest
from nudges.select import Person, Pick, Selection, SelectionPolicy, select
from pipelines.followthrough import (
    check,
    demoted_now,
    load_assignments,
    mark_credited,
    overall_rates,
    pending_credits,
    record_assignments,
    record_controls,
    record_demotions,
    withheld_before,
)
from pipelines.hr_report import write_report
from pipelines.privacy.optout import without_opted_out
from pipelines.privacy.retention import apply_data_rules
from pipelines.sending import send_pending
from pipelines.settings import Settings
from pipelines.weeks import IsoWeek

# Log lines carry ids, counts and states only: never a name, an address or a score.
log = logging.getLogger("retention.weekly")
# Each stage announces itself here as it starts (and says how long it took): the CLI shows these
# as progress, --verbose as log lines. The same lines come from a Prefect run and a direct one.
stage_log = logging.getLogger("retention.stage")
F = TypeVar("F", bound=Callable[..., Any])


def announced(name: str) -> Callable[[F], F]:
    """Log `name` when the stage starts and its duration when it ends."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            stage_log.info("%s", name, extra={"stage": name})
            try:
                return func(*args, **kwargs)
            finally:
                stage_log.info("%s done in %.1f s", name, time.perf_counter() - started)

        return cast(F, inner)

    return wrap


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


def identity_from(settings: Settings) -> Identity:
    return Identity(
        sender=settings.email.sender,
        reply_to=settings.email.reply_to,
        unsubscribe=settings.email.unsubscribe,
        organisation=settings.email.organisation,
        display=settings.nudges.display,
    )


def active_kinds(settings: Settings) -> tuple[Catalog, list[NudgeKind]]:
    catalog = load_catalog(settings.nudges.catalog)
    unknown = sorted(set(settings.nudges.disabled_kinds) - set(catalog.by_id()))
    if unknown:
        raise ConfigError(f"[nudges] disabled_kinds names unknown kinds: {', '.join(unknown)}")
    return catalog, catalog.active(settings.nudges.disabled_kinds)


def load_people(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, Person]:
    """These people with their managers and skip-level managers: all that routing them needs
    (a 2M-person roster as Python objects is 400 MB the week's flagged stars never use)."""
    rows = with_ids(
        conn,
        ids,
        """
        with m as (select e.employee_id, e.manager_id from employees e join _wanted_ids using (employee_id)),
        needed as (
            select employee_id from m
            union select manager_id from m where manager_id is not null
            union select e.manager_id from employees e join m on e.employee_id = m.manager_id
                where e.manager_id is not null
        )
        select e.employee_id, e.manager_id, e.status from employees e join needed using (employee_id)
        """,
    )
    return {str(e): Person(manager_id=m, status=s) for e, m, s in rows}


def current_managers(conn: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    rows = conn.execute("select employee_id, manager_id from employees where status <> 'left'").fetchall()
    return {str(e): m for e, m in rows}


def load_contacts(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, Contact]:
    rows = _employees_among(conn, ids, "name, email")
    return {e: Contact(e, n, m) for e, n, m in rows}


def _employees_among(conn: duckdb.DuckDBPyConnection, ids: Iterable[str], columns: str) -> list[tuple[Any, ...]]:
    """`employee_id, <columns>` of these people."""
    return with_ids(
        conn, ids, f"select e.employee_id, {columns} from employees e join _wanted_ids w using (employee_id)"
    )


def load_last_sent(conn: duckdb.DuckDBPyConnection, week: IsoWeek) -> dict[tuple[str, str], date]:
    """When each (person, kind) was last nudged before this week, for cooldowns."""
    rows = conn.execute(
        "select employee_id, kind, max(week) from nudges where week < ? group by 1, 2", [str(week)]
    ).fetchall()
    return {(e, k): IsoWeek.parse(w).monday for e, k, w in rows}


def load_previous_managers(
    conn: duckdb.DuckDBPyConnection, week: IsoWeek, ids: Iterable[str]
) -> dict[str, str | None]:
    """These people's managers as the last run before this week recorded them."""
    rows = with_ids(
        conn,
        ids,
        """
        select employee_id, arg_max(manager_id, week) from manager_history
        where week < ? and employee_id in (select employee_id from _wanted_ids) group by employee_id
        """,
        [str(week)],
    )
    return {str(e): m for e, m in rows}


def healthy_from(settings: Settings) -> Healthy:
    # [drivers] has exactly Healthy's fields, so a new level needs one edit in each.
    return Healthy(**settings.drivers.model_dump())


def rule_weights(settings: Settings) -> RuleWeights:
    rules = settings.rules
    return RuleWeights(
        recognition=rules.weight_recognition,
        one_on_ones=rules.weight_one_on_ones,
        career=rules.weight_career,
        autonomy=rules.weight_autonomy,
    )


def score_stage(
    features: Features,
    settings: Settings,
    attributes: pd.DataFrame | None = None,
    *,
    focus: np.ndarray | None = None,
) -> Scores:
    """The trained model when it is usable, else the transparent rules score, with the reason."""
    extras = tuple(settings.ingest.extra_columns)
    choice = usable_model(
        settings.model.dir,
        enabled=settings.model.enabled,
        max_age_days=settings.model.max_age_days,
        features=feature_list(extras),
    )
    if choice.model is not None:
        return model_scores(
            choice.model,
            features,
            healthy_from(settings),
            attributes=attributes,
            focus=focus,
            # Drivers rank nudges, and only people at or above the threshold get one.
            min_risk=settings.model.threshold if focus is not None else None,
            note=choice.reason,
        )
    try:
        return rules_score(features, rule_weights(settings), note=f"rules score: {choice.reason}")
    except ValueError as exc:
        raise ConfigError(f"[rules]: {exc}") from None


def threshold_for(scores: Scores, settings: Settings) -> float:
    return settings.model.threshold if scores.method == "model" else settings.rules.threshold


TRUTHY = {"true", "yes", "y", "1", "1.0", "t"}


def stars_stage(features: Features, settings: Settings, attributes: pd.DataFrame | None = None) -> np.ndarray:
    """Who HR counts as a star this week (rating rules and/or an HRIS flag)."""
    flag = None
    if settings.stars.flag_column and attributes is not None:
        values = attributes[settings.stars.flag_column].astype(str).str.strip().str.lower()
        flagged = set(attributes.loc[values.isin(TRUTHY), "employee_id"])
        flag = np.array([e in flagged for e in features["employee_id"]], dtype=bool)
    return star_mask(
        features.numeric("rating_latest"),
        StarRule(settings.stars.min_rating, settings.stars.top_share, settings.stars.combine),
        flag=flag,
    )


def select_stage(
    conn: duckdb.DuckDBPyConnection,
    features: Features,
    scores: Scores,
    stars: np.ndarray,
    kinds: list[NudgeKind],
    settings: Settings,
    week: IsoWeek,
) -> Selection:
    policy = SelectionPolicy(
        threshold=threshold_for(scores, settings),
        per_manager=settings.nudges.per_manager,
        rating_max=settings.ingest.rating_max,
    )
    # Only stars at or above the threshold are routed or checked for a manager change.
    flagged = [str(e) for e in features["employee_id"][stars & (scores.risk >= policy.threshold)]]
    # A nudge withheld as a control cools down exactly like one sent.
    last_sent = load_last_sent(conn, week)
    for pair, withheld in withheld_before(conn, week).items():
        last_sent[pair] = max(withheld, last_sent.get(pair, withheld))
    stored = load_assignments(conn, flagged)
    experiment = settings.experiment

    def arm_of(employee_id: str, kind: str) -> str:
        return arm_for(employee_id, kind, share=experiment.holdout_share, seed=experiment.seed, stored=stored)

    try:
        selection = select(
            features,
            scores,
            stars,
            kinds,
            load_people(conn, flagged),
            policy,
            today=week.monday,
            last_sent=last_sent,
            previous_managers=load_previous_managers(conn, week, flagged),
            arm_of=arm_of,
            demoted=demoted_now(conn),
        )
    except ValueError as exc:
        raise ConfigError(f"nudge catalog: {exc}") from None
    return selection


def render_jobs(conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, report: WeeklyReport) -> list[RenderJob]:
    """The week's digests to make, in batches (and all-clear notes if configured).

    Managers whose digest for the week is already queued are left alone: their
    message exists, and a re-run must not make a different one.
    """
    already = queued_managers(conn, str(plan.week))
    grouped: dict[str, list[Pick]] = plan.selection.by_recipient()
    report.digests_existing = len(already & set(grouped))
    if settings.nudges.all_clear:
        for manager_id in _active_managers(conn):
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
    return render_job(job, plan.catalog.by_id(), identity_from(settings), plan.threshold)


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


def load_departments(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, str | None]:
    return {e: d for e, d in _employees_among(conn, ids, "department")}


def render_one(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, manager_id: str
) -> Digest | None:
    """One manager's digest as the plan would make it (for previews); None when they would get none."""
    picks = plan.selection.by_recipient().get(manager_id, [])
    if not picks and not (settings.nudges.all_clear and manager_id in _active_managers(conn)):
        return None
    contacts = load_contacts(conn, {manager_id, *(p.employee_id for p in picks)})
    return render_digest(
        week=str(plan.week),
        manager=contacts.get(manager_id, Contact(manager_id, None, None)),
        picks=picks,
        kinds=plan.catalog.by_id(),
        contacts=contacts,
        identity=identity_from(settings),
        threshold=plan.threshold,
    )


def _active_managers(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "select distinct m.employee_id from employees e join employees m on e.manager_id = m.employee_id"
        " where m.status = 'active' and e.status <> 'left' and e.employee_id <> m.employee_id"
    ).fetchall()
    return [r[0] for r in rows]


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
        flagged=int((stars & (risk >= threshold)).sum()),
        mean_risk=float(np.nanmean(risk)) if len(risk) else None,
    )


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


@dataclass
class WeekPlan:
    """What a week would do, decided but not yet written anywhere (the run and `preview` share it)."""

    week: IsoWeek
    catalog: Catalog
    features: Features
    scores: Scores
    stars: np.ndarray
    selection: Selection
    threshold: float
    followthrough_days: int = 14


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


def plan_week(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    week: IsoWeek,
) -> WeekPlan:
    """Features, stars, scores and selection for a week; reads the store, writes nothing."""
    features, attributes = features_stage(conn, settings, week)
    stars, scores = scoring_stage(features, settings, attributes)
    return selection_stage(conn, settings, week, features, stars, scores)


@announced("features")
def features_stage(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: IsoWeek
) -> tuple[Features, pd.DataFrame | None]:
    """Point-in-time features for the week, and the configured extra HRIS columns.

    People who opted out are dropped here, so they are never scored, selected or named in a
    digest; as managers they still receive their reports' digests."""
    extras = settings.ingest.extra_columns
    if settings.model.enabled:
        warm_up(Path(settings.model.dir))  # the scorer's imports overlap the features query
    features = without_opted_out(conn, compute_features(conn, week.as_of))
    attributes = attributes_frame(conn, extras) if extras else None
    # The week's big scans are done: what DuckDB cached for them is memory the rendering needs.
    release_memory(conn, settings.store.memory_limit)
    return features, attributes


@announced("score")
def scoring_stage(
    features: Features, settings: Settings, attributes: pd.DataFrame | None
) -> tuple[np.ndarray, Scores]:
    """Who the stars are, then risk for everyone and drivers for the stars."""
    stars = stars_stage(features, settings, attributes)
    return stars, score_stage(features, settings, attributes, focus=stars)


@announced("select")
def selection_stage(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    week: IsoWeek,
    features: Features,
    stars: np.ndarray,
    scores: Scores,
) -> WeekPlan:
    catalog, kinds = active_kinds(settings)
    selection = select_stage(conn, features, scores, stars, kinds, settings, week)
    return WeekPlan(
        week, catalog, features, scores, stars, selection, threshold_for(scores, settings), settings.followthrough.days
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


@announced("deliver")
def deliver_week(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: IsoWeek, report: WeeklyReport
) -> FilesReport | None:
    """Files mode writes the week's outbox folder; SMTP mode sends what is waiting for the week."""
    report.delivery_mode = settings.delivery.mode
    if settings.delivery.mode == "files":
        return deliver_files(conn, str(week), settings.delivery.outbox_dir)
    report.delivery = dict(send_pending(conn, settings, week=str(week)).states)
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
    _summarise(conn, report, plan.features, plan.scores, plan.stars, plan.selection, settings, files)
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


def fail_run(conn: duckdb.DuckDBPyConnection, report: WeeklyReport) -> None:
    conn.execute("update runs set status = 'failed', finished_at = ? where run_id = ?", [utcnow(), report.run_id])


def run_week(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    week: IsoWeek,
) -> WeeklyReport:
    """Score, select, render, enqueue and deliver one ISO week; safe to re-run.

    The Prefect flow (pipelines/flows.py) runs the same stages as tasks.
    """
    report = start_run(conn, week)
    try:
        apply_data_rules(conn, settings)  # purge events past [retention] keep_days, sync the opt-out file
        followthrough_stage(conn, settings, week, report)
        plan = plan_week(conn, settings, week)
        render_and_enqueue(conn, plan, settings, report)
        record_run(conn, plan, report)
        files = deliver_week(conn, settings, week, report)
        return finish_run(conn, plan, settings, report, files)
    except BaseException:
        fail_run(conn, report)
        raise


def _summarise(
    conn: duckdb.DuckDBPyConnection,
    report: WeeklyReport,
    features: Features,
    scores: Scores,
    stars: np.ndarray,
    selection: Selection,
    settings: Settings,
    files: FilesReport | None,
) -> None:
    report.score_method = scores.method
    report.controls = len(selection.controls)
    report.people = len(features)
    report.stars = int(stars.sum())
    report.stars_flagged = int((stars & (scores.risk >= threshold_for(scores, settings))).sum())
    report.score_note = scores.note
    row = fetch_one(
        conn,
        "select count(*), coalesce(sum(nudge_count), 0) from outbox where week = ? and nudge_count > 0",
        [report.week],
    )
    report.managers_emailed, report.nudges = (int(row[0]), int(row[1])) if row else (0, 0)
    by_kind = conn.execute("select kind, count(*) from nudges where week = ? group by 1 order by 1", [report.week])
    report.nudges_by_kind = {k: int(n) for k, n in by_kind.fetchall()}
    report.skipped = dict(Counter(d.reason for d in selection.decisions if d.outcome == "skipped"))
    report.quarantined_rows = int(fetch_value(conn, "select count(*) from quarantine") or 0)
    report.empty_sources = [
        s.name for s in SOURCES if s.required and not fetch_value(conn, f"select exists (select 1 from {s.name})")
    ]
    if files is not None:
        report.files_written = files.written
        report.outbox_folder = str(Path(files.folder))
