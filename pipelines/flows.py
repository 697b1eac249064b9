"""Prefect flows: the weekly digest and the monthly retrain, each stage a task around a plain function.

Tasks hold no business logic: the weekly flow runs `pipelines.weekly.run.run_week`,
the same stage sequence the CLI runs, with each stage as a task here and the
digests rendered in batches on the flow's task runner. Only the I/O stages (ingest, deliver) retry, with the
counts and delays from `[flows]`. Artifacts carry counts and states only:
never a name, an address or an individual score.

Concurrency: the flow holds the DuckDB store open for its whole run, and
DuckDB admits one writing process per file, so a second weekly run (same week
or not) fails at once with a clear "store is in use" error instead of
sending anything; within one process a lock does the same.

Only this module and the CLI import Prefect, so the library and its tests
start fast.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from core.db import few_checkpoints
from core.errors import ConfigError, StoreLockedError
from models.card import card_html, card_lines
from models.dataset import TrainingSet
from models.persist import save
from models.train import Trained
from nudges.batches import RenderedBatch, RenderJob, render_job
from nudges.catalog import NudgeKind
from nudges.render import Identity
from pipelines import options
from pipelines.config import load_settings
from pipelines.ingest.load import ingest_folder
from pipelines.options import ingest_options
from pipelines.settings import Settings
from pipelines.store import open_store
from pipelines.training import (
    Promotion,
    compare_with_current,
    train_stored,
)
from pipelines.weekly.plan import (
    WeekPlan,
)
from pipelines.weekly.record import WeeklyReport
from pipelines.weekly.render import enqueue_batch, render_jobs, steady_heap
from pipelines.weekly.run import run_week
from pipelines.weekly.stage import StageCall, stage_log
from pipelines.weeks import IsoWeek

# Stage tasks pass live objects (a DuckDB connection, arrays): nothing to cache or persist.
T = TypeVar("T")
_WEEKS_RUNNING: set[str] = set()
_WEEKS_LOCK = threading.Lock()


@task(name="ingest", cache_policy=NO_CACHE, persist_result=False)
def ingest_task(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    folder = settings.flows.drop_dir
    if folder is None:
        return {}
    report = ingest_folder(conn, Path(folder), ingest_options(settings))
    return {"rows_loaded": report.rows_loaded, "rows_quarantined": report.rows_quarantined}


@task(name="plan-batches", cache_policy=NO_CACHE, persist_result=False)
def batches_task(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, report: WeeklyReport
) -> list[RenderJob]:
    return render_jobs(conn, plan, settings, report)


@task(name="render", cache_policy=NO_CACHE, persist_result=False)
def render_task(job: RenderJob, kinds: dict[str, NudgeKind], identity: Identity, threshold: float) -> RenderedBatch:
    # Runs on the flow's task runner (a thread, or a Dask worker): it gets no store, only its batch.
    return render_job(job, kinds, identity, threshold)


@task(name="enqueue", cache_policy=NO_CACHE, persist_result=False)
def enqueue_task(conn: duckdb.DuckDBPyConnection, batch: RenderedBatch, report: WeeklyReport) -> None:
    enqueue_batch(conn, batch, report)


def render_and_enqueue_batches(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, report: WeeklyReport
) -> None:
    """Batches render on the configured task runner, a few in flight; each is queued as it arrives.

    Only this process writes the store (DuckDB admits one writer), so workers
    return bytes and the flow inserts them; at most `in_flight` rendered batches
    wait in memory.
    """
    jobs = batches_task(conn, _quiet(plan), settings, report)
    kinds, identity = plan.catalog.by_id(), options.identity(settings)
    runner, in_flight = batch_runner(settings)
    # In this process, quote() spares Prefect walking every batch (1 s of a 100k week); a Dask
    # client rebuilds quote() wrappers as bare tuples, so there the batches go plain.
    wrap = _quiet if isinstance(runner, ThreadPoolTaskRunner) else _plain
    started = time.perf_counter()
    stage_log.info("render", extra={"stage": "render"})
    with runner, steady_heap(), few_checkpoints(conn):
        pending: list[PrefectFuture[RenderedBatch]] = []
        queue = list(reversed(jobs))
        while queue or pending:
            while queue and len(pending) < in_flight:
                parameters = {"job": wrap(queue.pop()), "kinds": wrap(kinds), "identity": identity,
                              "threshold": plan.threshold}
                pending.append(runner.submit(render_task, parameters=parameters))
            done = next(as_completed(pending))
            pending.remove(done)
            enqueue_task(conn, _quiet(done.result()), report)
            finished = len(jobs) - len(queue) - len(pending)
            stage_log.info("render: batch %d of %d", finished, len(jobs), extra={"stage": "render"})
    stage_log.info("render done in %.1f s", time.perf_counter() - started)


def batch_runner(settings: Settings) -> tuple[TaskRunner[Any], int]:
    """The task runner batches render on, and how many may be in flight at once.

    "thread": two threads in this process (rendering overlaps the store writes).
    "dask": prefect-dask on the scheduler at `dask_address`, or a local cluster of
    `dask_workers` single-threaded processes started for this run.
    """
    f = settings.flows
    if f.task_runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise ConfigError(
                '[flows] task_runner = "dask" needs prefect-dask: pip install "retention-nudges[dask]"'
            ) from None

        if f.dask_address:
            return DaskTaskRunner(address=f.dask_address), 2 * f.dask_workers
        cluster = {"n_workers": f.dask_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        return DaskTaskRunner(cluster_kwargs=cluster), 2 * f.dask_workers
    return ThreadPoolTaskRunner(max_workers=2), 2


def _quiet(value: T) -> T:
    """Pass `value` to a task without Prefect walking every element of it to track dependencies:
    for a 100k-person week that walk took 20 s. Tasks run in order here anyway."""
    return cast(T, quote(value))


def _plain(value: T) -> T:
    return value


def _io(t: Any, settings: Settings) -> Any:
    return t.with_options(retries=settings.flows.io_retries, retry_delay_seconds=settings.flows.io_retry_delay_s)


# run_week's stages that reach outside the store (the mail server, the outbox folder): retried.
IO_STAGES = frozenset({"deliver"})


@functools.cache
def _stage_task(name: str, stage: Callable[..., Any]) -> Any:
    """`stage` as a Prefect task named for it: made on first use from the function `run_week` calls."""
    return task(name=name, cache_policy=NO_CACHE, persist_result=False)(stage)


def _as_task(settings: Settings) -> StageCall:
    """`run_week`'s stages as this flow's tasks (I/O stages retried), their arguments passed quietly."""

    def call(name: str, stage: Callable[..., Any], *args: Any) -> Any:
        stage_task = _stage_task(name, stage)
        if name in IO_STAGES:
            stage_task = _io(stage_task, settings)
        return stage_task(*(_quiet(a) for a in args))

    return call


@flow(name="weekly-digest", log_prints=False)
def weekly_digest(
    week: str | None = None,
    config_path: str | None = None,
    task_runner: str | None = None,
    workers: int | None = None,
) -> WeeklyReport:
    """Ingest -> follow-through -> features -> score -> select -> render + enqueue (in batches) -> deliver
    -> report, for one ISO week.

    `task_runner` ("thread" or "dask") and `workers` override `[flows] task_runner` and `dask_workers`.
    """
    overrides: dict[str, Any] = {}
    if task_runner is not None:
        overrides["flows.task_runner"] = task_runner
    if workers is not None:
        overrides["flows.dask_workers"] = workers
    settings = load_settings(Path(config_path) if config_path else None, overrides=overrides)
    iso = IsoWeek.parse(week) if week else IsoWeek.containing(date.today())
    with _one_run_per_week(str(iso)), open_store(settings.store.path, memory_limit=settings.store.memory_limit) as conn:
        ingested = _io(ingest_task, settings)(conn, settings)
        report = run_week(conn, settings, iso, stage=_as_task(settings), render=render_and_enqueue_batches)
    _weekly_artifacts(report, ingested)
    get_run_logger().info(
        "week %s: %d digests queued, %d nudges, scored with %s", report.week, report.digests_new, report.nudges,
        report.score_method,
    )
    return report


class _WeekBusy(StoreLockedError):
    pass


class _one_run_per_week:
    """Within one process, a second run of a week waits for nobody: it fails at once."""

    def __init__(self, week: str) -> None:
        self.week = week

    def __enter__(self) -> None:
        with _WEEKS_LOCK:
            if self.week in _WEEKS_RUNNING:
                raise _WeekBusy(f"week {self.week} is already being run in this process; nothing was sent twice")
            _WEEKS_RUNNING.add(self.week)

    def __exit__(self, *exc: object) -> None:
        with _WEEKS_LOCK:
            _WEEKS_RUNNING.discard(self.week)


def _weekly_artifacts(report: WeeklyReport, ingested: dict[str, int]) -> None:
    """A run summary and nudges by kind: counts, states and file paths only."""
    delivery = ", ".join(f"{n} {s}" for s, n in sorted(report.delivery.items())) or (
        f"{report.files_written} files written to {report.outbox_folder}" if report.outbox_folder else "none"
    )
    skipped = "\n".join(f"| {reason} | {n} |" for reason, n in sorted(report.skipped.items())) or "| none | 0 |"
    markdown = f"""# Weekly digest {report.week}

| | |
|---|---:|
| people on the roster | {report.people} |
| star performers | {report.stars} |
| stars above the threshold | {report.stars_flagged} |
| managers emailed | {report.managers_emailed} |
| nudges | {report.nudges} |
| digests queued now / already queued | {report.digests_new} / {report.digests_existing} |
| rows in quarantine | {report.quarantined_rows} |
| rows ingested now | {ingested.get("rows_loaded", 0)} |

**Score:** {report.score_method} ({report.score_note})

**Delivery:** {delivery}

**HR summary:** `{report.hr_summary}` (and `.json` beside it)

| skipped because | stars |
|---|---:|
{skipped}
"""
    key = f"weekly-digest-{report.week.lower()}"
    create_markdown_artifact(markdown=markdown, key=key, description="Run summary: counts only")
    create_table_artifact(
        table=[{"kind": k, "nudges": n} for k, n in sorted(report.nudges_by_kind.items())] or [{"kind": "none", "nudges": 0}],
        key=f"{key}-nudges",
        description="Nudges by kind",
    )


@task(name="train", cache_policy=NO_CACHE, persist_result=False)
def train_task(settings: Settings) -> tuple[TrainingSet, Trained]:
    return train_stored(settings)


@task(name="evaluate", cache_policy=NO_CACHE, persist_result=False)
def evaluate_task(data: TrainingSet, trained: Trained, settings: Settings) -> Promotion:
    return compare_with_current(data, trained, Path(settings.model.dir), tolerance=settings.flows.promote_tolerance)


@task(name="promote", cache_policy=NO_CACHE, persist_result=False)
def promote_task(trained: Trained, settings: Settings) -> str:
    return str(save(trained.estimator, trained.card, Path(settings.model.dir), card_html=card_html(trained.card)))


@flow(name="retrain", log_prints=False)
def retrain(config_path: str | None = None) -> dict[str, Any]:
    """Train a new model; promote it only if it is not worse than the current one on the same rows."""
    settings = load_settings(Path(config_path) if config_path else None)
    data, trained = train_task(settings)
    decision = evaluate_task(data, trained, settings)
    if decision.promote:
        promote_task(trained, settings)
    rows = "\n".join(f"| {label} | {value} |" for label, value in card_lines(trained.card))
    create_markdown_artifact(
        markdown=f"# Retrain\n\n**{'Promoted' if decision.promote else 'Not promoted'}.** {decision.reason}\n\n"
        f"## The new model's card\n\n| | |\n|---|---|\n{rows}\n",
        key="retrain",
        description="The new model's card and the promotion decision",
    )
    get_run_logger().info("retrain: %s", decision.reason)
    return {"promoted": decision.promote, "reason": decision.reason, "new_auc": decision.new_auc}
