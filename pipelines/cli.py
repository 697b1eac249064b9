"""The `retention` command: parses arguments, loads settings once, prints results.

No business logic lives here; each command calls plain functions and turns our
own errors into one readable line and exit code 1.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli_common import (
    ConfigError,
    _parse_date,
    _plural,
    _progress,
    _settings,
    _stage_progress,
    _State,
    app,
    config_app,
    console,
    err_console,
    handles_errors,
)
from pipelines.cli_model import _train

__all__ = ["app", "main"]

# --- synth ---------------------------------------------------------------------------------


@app.command()
@handles_errors
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the drop files into.")] = Path("demo-data"),
    employees: Annotated[int, typer.Option(min=20, max=5_000_000, help="Headcount at the start.")] = 1000,
    months: Annotated[int, typer.Option(min=1, max=60, help="Months of signal history.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 0,
    end: Annotated[str | None, typer.Option(help="Last day of history (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Generate a synthetic organisation as a drop folder (fake names, known ground truth)."""
    result = _synthesise(out, employees=employees, months=months, seed=seed, end=_parse_date(end, "--end"))
    table = Table(title=f"Synthetic org in {result.out_dir}", show_header=True)
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("deliberately bad", justify="right")
    for source, path in result.files.items():
        table.add_row(escape(path.name), f"{result.rows[source]:,}", f"{result.bad_rows.get(source, 0):,}")
    console.print(table)
    console.print(
        f"{_plural(result.people, 'person', 'people')} over the window ({_plural(result.employees, 'roster row')});"
        f" {result.voluntary_exits:,} voluntary and {result.involuntary_exits:,} involuntary exits;"
        f" oracle ROC-AUC {result.oracle_auc:.3f}"
        f" (ground truth in {result.out_dir / '_truth'})"
    )


def _synthesise(out: Path, *, employees: int, months: int, seed: int, end: date | None) -> Any:
    from pipelines.synthetic import SynthSpec, generate

    spec = SynthSpec(employees=employees, months=months, seed=seed, end=end)
    with _progress() as progress:
        task = progress.add_task("Generating synthetic org", total=1.0)

        def report(label: str, fraction: float) -> None:
            progress.update(task, completed=fraction, description=f"Generating: {label}")

        return generate(spec, out, progress=report)


# --- ingest --------------------------------------------------------------------------------


@app.command()
@handles_errors
def ingest(
    folder: Annotated[Path, typer.Argument(help="Drop folder with employees, performance, recognition, ... files.")],
) -> None:
    """Load a drop folder into the store; bad rows go to quarantine, good rows load."""
    settings = _settings()
    report = _ingest(settings, folder)
    _print_ingest(report)


def _ingest(settings: Any, folder: Path) -> Any:
    from pipelines.ingest.load import ingest_folder
    from pipelines.options import ingest_options
    from pipelines.privacy.optout import sync_opt_out_file
    from pipelines.store import open_store

    options = ingest_options(settings)
    with open_store(settings.store.path, memory_limit=settings.store.memory_limit) as conn, _progress() as progress:
        task = progress.add_task("Ingesting", total=None)

        def step(name: str, done: int, total: int) -> None:
            progress.update(task, total=total, completed=done, description=f"Ingesting {name}".rstrip())

        report = ingest_folder(conn, folder, options, progress=step)  # records its run, for the demo's guard
        sync_opt_out_file(conn, settings.privacy.opt_out_file)
    return report


def _print_ingest(report: Any) -> None:
    table = Table(title="Ingest", show_header=True)
    table.add_column("file")
    table.add_column("status")
    table.add_column("loaded", justify="right")
    table.add_column("quarantined", justify="right")
    table.add_column("most common problem")
    for f in report.files:
        top = f.reasons.most_common(1)
        table.add_row(
            escape(f.path),
            f.status,
            f"{f.rows_loaded:,}" if f.status == "loaded" else "-",
            f"{f.rows_quarantined:,}" if f.status == "loaded" else "-",
            escape(f"{top[0][0]} ({top[0][1]:,})") if top else "",
        )
    console.print(table)
    for warning in report.warnings:
        err_console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if report.ignored:
        console.print(f"Ignored files (not part of the contract): {escape(', '.join(report.ignored))}")
    if report.rows_quarantined:
        console.print(
            f"{_plural(report.rows_quarantined, 'row')} quarantined with file, line, column and reason;"
            " `retention quarantine` lists them."
        )


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


# --- demo ----------------------------------------------------------------------------------


@app.command()
@handles_errors
def demo(
    employees: Annotated[int, typer.Option(min=20, max=200_000, help="Size of the synthetic org.")] = 1000,
    months: Annotated[
        int, typer.Option(min=3, max=36, help="Months of signal history (a model needs more than 12).")
    ] = 24,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    data: Annotated[Path, typer.Option(help="Where to write the synthetic drop folder.")] = Path("demo-data"),
) -> None:
    """Synthetic org -> ingest -> score -> nudges -> digests in ./outbox/, in one go (a re-run reuses what is there)."""
    from pipelines.synthetic import existing_spec

    settings = _settings()
    started = time.perf_counter()
    _guard_demo_store(settings, data)
    previous = existing_spec(data)
    if previous and (previous.get("employees"), previous.get("months"), previous.get("seed")) == (employees, months, seed):
        console.print(
            f"Reusing the synthetic org in {data}/ (same size, months and seed, data up to {previous.get('end')});"
            " delete the folder for a new one"
        )
    else:
        synth_result = _synthesise(data, employees=employees, months=months, seed=seed, end=date.today())
        console.print(
            f"Generated a synthetic org of {employees:,} people ({synth_result.people:,} over {months} months with"
            f" hires and leavers) into {data}/"
        )
    ingest_report = _ingest(settings, data)
    if ingest_report.changed:
        console.print(
            f"Ingested {_plural(ingest_report.rows_loaded, 'row')} into {settings.store.path}"
            f" ({_plural(ingest_report.rows_quarantined, 'bad row')} quarantined)"
        )
    else:
        console.print(f"{settings.store.path} already holds these files: nothing new to ingest")
    _demo_model(settings, retrain=ingest_report.changed)
    report = _run_week(settings, None)
    _print_week(report)
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")


def _demo_model(settings: Any, *, retrain: bool) -> None:
    """Train when the synthetic history allows it (and the data changed); otherwise say what the run uses."""
    from core.errors import ModelError
    from models.persist import read_card

    if not retrain:
        try:
            card = read_card(settings.model.dir)
        except ModelError:
            pass
        else:
            console.print(
                f"The model in {escape(str(settings.model.dir))}/ was trained on this data"
                f" ({escape(str(card.get('version')))}): not retraining"
            )
            return
    try:
        card = _train(settings)
    except ModelError as exc:
        console.print(f"No model trained ({escape(str(exc))}).")
        return
    console.print(
        f"Trained a {card['estimator']} model on {_plural(card['rows'], 'snapshot row')}:"
        f" validation ROC-AUC {card['validation']['roc_auc']:.3f} (card in {escape(str(settings.model.dir))}/card.html)"
    )


def _guard_demo_store(settings: Any, data: Path) -> None:
    """Never mix synthetic people into a store that holds real ones."""
    from pipelines.store import open_store

    path = Path(settings.store.path)
    if not path.exists():
        return
    with open_store(path) as conn:
        rows = conn.execute("select distinct json_extract_string(summary, '$.folder') from runs where kind = 'ingest'")
        folders = {r[0] for r in rows.fetchall() if r[0]}
    foreign = folders - {str(data.resolve())}
    if foreign:
        raise ConfigError(
            f"the store {path} already holds data ingested from {sorted(foreign)[0]}; the demo will not mix"
            " synthetic people into it. Point RETENTION_STORE__PATH at another file or run in an empty folder"
        )


# --- config --------------------------------------------------------------------------------


@config_app.command("show")
@handles_errors
def config_show() -> None:
    """Print the effective configuration (file + environment), secrets masked."""
    from pipelines.config import resolve_config_path, settings_as_toml

    settings = _settings()
    source = resolve_config_path(_State.config)
    typer.echo(f"# effective configuration (file: {source or 'none, defaults'}; env RETENTION_* applied)\n")
    typer.echo(settings_as_toml(settings), nl=False)


# The other commands register themselves on `app` when imported; here, so `--help` lists them after these.
from pipelines import cli_hr, cli_mail, cli_privacy  # noqa: E402,F401


def main() -> None:
    try:
        app()
    finally:
        from models.cores import release  # light: threadpoolctl only

        release()  # model fits' worker processes, if any: the command is done, exit without waiting for them
