"""Prefect flows: the weekly digest and the monthly retrain, each stage a task around a plain function.

Tasks hold no business logic: they call the stage functions in
`pipelines.weekly`, `pipelines.ingest` and `pipelines.training` that the CLI
and the tests also call. Only the I/O stages (ingest, deliver) retry, with the
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

import threading
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from models.card import card_html, card_lines
from models.dataset import TrainingSet
from models.features import Features
from models.persist import save
from models.score import Scores
from models.train import Trained
from nudges.outbox import FilesReport
from nudges.render import Digest
from pipelines.errors import StoreLockedError
from pipelines.ingest import ingest_folder, ingest_options
from pipelines.settings import Settings, load_settings
from pipelines.store import open_store
from pipelines.training import (
    Promotion,
    compare_with_current,
    train_from_store,
)
from pipelines.weekly import (
    WeeklyReport,
    WeekPlan,
    deliver_week,
    enqueue_week,
    fail_run,
    features_stage,
    finish_run,
    render_week,
    scoring_stage,
    selection_stage,
    start_run,
)
from pipelines.weeks import IsoWeek

# Stage tasks pass live objects (a DuckDB connection, arrays): nothing to cache or persist.
_WEEKS_RUNNING: set[str] = set()
_WEEKS_LOCK = threading.Lock()


@task(name="ingest", cache_policy=NO_CACHE, persist_result=False)
def ingest_task(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    folder = settings.flows.drop_dir
    if folder is None:
        return {}
    report = ingest_folder(conn, Path(folder), ingest_options(settings))
    return {"rows_loaded": report.rows_loaded, "rows_quarantined": report.rows_quarantined}


@task(name="features", cache_policy=NO_CACHE, persist_result=False)
def features_task(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: IsoWeek
) -> tuple[Features, pd.DataFrame | None]:
    return features_stage(conn, settings, week)


@task(name="score", cache_policy=NO_CACHE, persist_result=False)
def score_task(
    features: Features, settings: Settings, attributes: pd.DataFrame | None
) -> tuple[np.ndarray, Scores]:
    return scoring_stage(features, settings, attributes)


@task(name="select", cache_policy=NO_CACHE, persist_result=False)
def select_task(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    week: IsoWeek,
    features: Features,
    stars: np.ndarray,
    scores: Scores,
) -> WeekPlan:
    return selection_stage(conn, settings, week, features, stars, scores)


@task(name="render", cache_policy=NO_CACHE, persist_result=False)
def render_task(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, settings: Settings, report: WeeklyReport
) -> list[Digest]:
    return render_week(conn, plan, settings, report)


@task(name="enqueue", cache_policy=NO_CACHE, persist_result=False)
def enqueue_task(
    conn: duckdb.DuckDBPyConnection, plan: WeekPlan, digests: list[Digest], settings: Settings, report: WeeklyReport
) -> None:
    enqueue_week(conn, plan, digests, settings, report)


@task(name="deliver", cache_policy=NO_CACHE, persist_result=False)
def deliver_task(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: IsoWeek, report: WeeklyReport
) -> FilesReport | None:
    return deliver_week(conn, settings, week, report)


@task(name="report", cache_policy=NO_CACHE, persist_result=False)
def report_task(
    conn: duckdb.DuckDBPyConnection,
    plan: WeekPlan,
    settings: Settings,
    report: WeeklyReport,
    files: FilesReport | None,
) -> WeeklyReport:
    return finish_run(conn, plan, settings, report, files)


def _io(t: Any, settings: Settings) -> Any:
    return t.with_options(retries=settings.flows.io_retries, retry_delay_seconds=settings.flows.io_retry_delay_s)


@flow(name="weekly-digest", log_prints=False)
def weekly_digest(week: str | None = None, config_path: str | None = None) -> WeeklyReport:
    """Ingest -> features -> score -> select -> render -> enqueue -> deliver -> report, for one ISO week."""
    settings = load_settings(Path(config_path) if config_path else None)
    iso = IsoWeek.parse(week) if week else IsoWeek.containing(date.today())
    with _one_run_per_week(str(iso)), open_store(settings.store.path) as conn:
        ingested = _io(ingest_task, settings)(conn, settings)
        report = start_run(conn, iso)
        try:
            features, attributes = features_task(conn, settings, iso)
            stars, scores = score_task(features, settings, attributes)
            plan = select_task(conn, settings, iso, features, stars, scores)
            digests = render_task(conn, plan, settings, report)
            enqueue_task(conn, plan, digests, settings, report)
            files = _io(deliver_task, settings)(conn, settings, iso, report)
            report = report_task(conn, plan, settings, report, files)
        except BaseException:
            fail_run(conn, report)
            raise
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
    with open_store(settings.store.path) as conn:
        return train_from_store(conn, settings)


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
