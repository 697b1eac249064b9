"""`retention run`: one ISO week through the Prefect flow (or `--direct`), and what it did."""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli.common import (
    ConfigError,
    _plural,
    _settings,
    _stage_progress,
    _State,
    command_group,
    console,
    err_console,
    handles_errors,
)

app = command_group()

# --- run -----------------------------------------------------------------------------------


@app.command()
@handles_errors
def run(
    week: Annotated[str | None, typer.Option(metavar="YYYY-Www", help="ISO week such as 2026-W05; default: the current week.")] = None,
    direct: Annotated[
        bool, typer.Option("--direct", help="Run the same stages without Prefect (no flow run, no artifacts).")
    ] = False,
    task_runner: Annotated[
        str | None,
        typer.Option(
            "--task-runner",
            help="Where digest batches render: thread (this process) or dask (prefect-dask); default [flows] task_runner.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Dask workers for a local cluster; default [flows] dask_workers."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run a week that has not started yet (its data is not all in).")
    ] = False,
) -> None:
    """Run the weekly flow for one week: score, select nudges, render, queue, deliver, report."""
    if task_runner is not None and task_runner not in ("thread", "dask"):
        raise typer.BadParameter(f"{task_runner!r} is not one of: thread, dask", param_hint="--task-runner")
    if direct and (task_runner or workers):
        raise typer.BadParameter("--direct runs without Prefect, so it has no task runner", param_hint="--direct")
    if week is not None and not force:
        _refuse_future_week(week)
    settings = _settings()
    report = _run_week(settings, week, direct=direct, task_runner=task_runner, workers=workers)
    _print_week(report)


def _refuse_future_week(text: str) -> None:
    """A week that starts after today would send digests on data that does not exist yet."""
    from pipelines.weeks import IsoWeek

    week, today = IsoWeek.parse(text), date.today()
    if week.monday > today:
        raise ConfigError(
            f"--week {week} starts on {week.monday:%A %d %B %Y}, after today ({today:%d %B %Y}): its digests"
            " would rest on signals that have not happened yet. Pass --force to run it anyway"
        )


def _prefect_environment() -> None:
    """Defaults that make a local, serverless Prefect run work on a small machine with no network."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's own lines (task states, its HTTP client) stay quiet; --verbose logs our stages.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _run_week(
    settings: Any,
    week_text: str | None,
    *,
    direct: bool = False,
    task_runner: str | None = None,
    workers: int | None = None,
) -> Any:
    from pipelines.weeks import IsoWeek

    week = IsoWeek.parse(week_text) if week_text else IsoWeek.containing(date.today())
    if direct:
        return _run_week_direct(settings, week)
    _prefect_environment()
    err_console.print(
        f"Week {week}: running the weekly-digest flow with a temporary local Prefect API (a few seconds; the"
        " first run on a machine also sets up Prefect's database, which can take a minute)...",
        style="dim",
        highlight=False,
    )
    from pipelines import prefect_api

    api = prefect_api.start_early()  # its start-up overlaps loading the flow's code
    from pipelines.flows import weekly_digest

    with prefect_api.using(api), _stage_progress(f"Week {week}"):
        state = weekly_digest(
            week=str(week),
            config_path=str(_State.config) if _State.config else None,
            task_runner=task_runner,
            workers=workers,
            return_state=True,
        )
    return state.result()  # re-raises the stage's own error when the flow failed


def _run_week_direct(settings: Any, week: Any) -> Any:
    from pipelines.store import open_store
    from pipelines.weekly.run import run_week

    with open_store(settings.store.path, memory_limit=settings.store.memory_limit) as conn, _stage_progress(f"Week {week}"):
        return run_week(conn, settings, week)


def _print_week(report: Any) -> None:
    table = Table(title=f"Week {report.week}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("people on the roster", f"{report.people:,}")
    table.add_row("star performers", f"{report.stars:,}")
    table.add_row(f"stars above the threshold ({report.score_method})", f"{report.stars_flagged:,}")
    emailed = "managers emailed" if report.delivery_mode == "smtp" else "managers with a digest (written to files)"
    table.add_row(emailed, f"{report.managers_emailed:,}")
    table.add_row("nudges", f"{report.nudges:,}")
    for kind, count in sorted(report.nudges_by_kind.items()):
        table.add_row(f"  {kind}", f"{count:,}")
    table.add_row("rows in quarantine", f"{report.quarantined_rows:,}")
    table.add_row("earlier nudges followed through (found now)", f"{report.followthrough_done:,}")
    table.add_row("earlier nudges expired / still open", f"{report.followthrough_expired:,} / {report.followthrough_open:,}")
    if report.controls:
        table.add_row("nudges withheld as controls", f"{report.controls:,}")
    if report.credit_lines:
        table.add_row("digests opening with credit", f"{report.credit_lines:,}")
    console.print(table)
    for change in report.demotions:
        console.print(f"Catalog: {escape(change)} on its follow-through rate (see the HR summary).")
    if report.score_note:
        console.print(f"Scored with {escape(report.score_note)}.")
    if report.digests_existing:
        console.print(
            f"{_plural(report.digests_existing, 'digest')} for {report.week} {'was' if report.digests_existing == 1 else 'were'}"
            " already in the outbox: nothing was sent twice."
        )
    if report.digests_skipped:
        console.print(f"{_plural(report.digests_skipped, 'digest')} skipped: the manager's email address is unusable.")
    if report.empty_sources:
        console.print(
            f"The store holds no {', '.join(report.empty_sources)} rows: their files had only a header, or none was"
            " ingested."
        )
    if report.outbox_folder and (report.managers_emailed or report.digests_new or report.digests_existing):
        console.print(f"Digests are in {report.outbox_folder}/ (one .eml and one .html preview per manager).")
    elif not report.managers_emailed:
        console.print(f"No digests this week: {_why_no_digests(report)}.")
    if report.delivery:
        states = ", ".join(f"{n:,} {state}" for state, n in sorted(report.delivery.items()))
        console.print(f"Sent over SMTP: {states}.")
    if report.hr_summary:
        console.print(f"HR summary: {escape(report.hr_summary)} (and .json beside it).")


def _why_no_digests(report: Any) -> str:
    if not report.stars:
        if "performance" in report.empty_sources:
            return "nobody counts as a star performer without a performance rating, and the store holds none"
        return "nobody counts as a star performer under the [stars] rules"
    if not report.stars_flagged:
        return "no star performer's signals crossed the threshold"
    return "every flagged star was skipped (see the HR summary for why) or already nudged recently"


