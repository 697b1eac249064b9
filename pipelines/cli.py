"""The `retention` command: parses arguments, loads settings once, prints results.

No business logic lives here; each command calls plain functions and turns our
own errors into one readable line and exit code 1.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pipelines.errors import ConfigError, RetentionError

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="retention",
    help="Weekly partnering nudges for managers of star performers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
model_app = typer.Typer(help="Train, inspect and benchmark the flight-risk model.", no_args_is_help=True)
app.add_typer(model_app, name="model")
outbox_app = typer.Typer(help="Inspect and retry the outbox of digests.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")

console = Console()
err_console = Console(stderr=True)


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Our errors become `error: <message>` on stderr and exit code 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RetentionError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


class _State:
    config: Path | None = None


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default: $RETENTION_CONFIG, else ./retention.toml)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage (ids and counts only).")] = False,
) -> None:
    """Weekly partnering nudges for managers of star performers."""
    _State.config = config
    if verbose:
        logging.basicConfig(
            level=logging.INFO,
            format="%(message)s",
            handlers=[RichHandler(console=err_console, show_path=False, markup=False)],
        )


def _settings(overrides: dict[str, Any] | None = None) -> Any:
    from pipelines.settings import load_settings

    return load_settings(_State.config, overrides=overrides)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date like 2026-06-30") from None


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
        f"{result.employees:,} employees; {result.voluntary_exits:,} voluntary and"
        f" {result.involuntary_exits:,} involuntary exits; oracle ROC-AUC {result.oracle_auc:.3f}"
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
    from pipelines.ingest import ingest_folder, ingest_options
    from pipelines.store import open_store, utcnow

    options = ingest_options(settings)
    with open_store(settings.store.path) as conn, _progress() as progress:
        task = progress.add_task("Ingesting", total=None)

        def step(name: str, done: int, total: int) -> None:
            progress.update(task, total=total, completed=done, description=f"Ingesting {name}".rstrip())

        started = utcnow()
        report = ingest_folder(conn, folder, options, progress=step)
        summary = {
            "folder": str(folder.resolve()),
            "files_loaded": sum(f.status == "loaded" for f in report.files),
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
        }
        conn.execute(
            "insert into runs values (?, 'ingest', null, ?, ?, 'completed', ?)",
            [report.run_id, started, utcnow(), json.dumps(summary)],
        )
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
    if report.ignored:
        console.print(f"Ignored files (not part of the contract): {escape(', '.join(report.ignored))}")
    if report.rows_quarantined:
        console.print(
            f"{report.rows_quarantined:,} rows quarantined with file, line, column and reason;"
            " see the `quarantine` table in the store."
        )


# --- run -----------------------------------------------------------------------------------


@app.command()
@handles_errors
def run(
    week: Annotated[str | None, typer.Option(help="ISO week such as 2026-W05; default: the current week.")] = None,
    direct: Annotated[
        bool, typer.Option("--direct", help="Run the same stages without Prefect (no flow run, no artifacts).")
    ] = False,
) -> None:
    """Run the weekly flow for one week: score, select nudges, render, queue, deliver, report."""
    settings = _settings()
    report = _run_week(settings, week, direct=direct)
    _print_week(report)


def _prefect_environment() -> None:
    """Defaults that make a local, serverless Prefect run work on a small machine with no network."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not logging.getLogger().handlers:  # without --verbose, Prefect's own log lines stay quiet
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _run_week(settings: Any, week_text: str | None, *, direct: bool = False) -> Any:
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
    from pipelines.flows import weekly_digest

    state = weekly_digest(
        week=str(week), config_path=str(_State.config) if _State.config else None, return_state=True
    )
    return state.result()  # re-raises the stage's own error when the flow failed


def _run_week_direct(settings: Any, week: Any) -> Any:
    from pipelines.store import open_store
    from pipelines.weekly import run_week

    stages = ["features", "score", "select", "render", "enqueue", "deliver", "report"]
    with open_store(settings.store.path) as conn, _progress() as progress:
        task = progress.add_task(f"Week {week}", total=len(stages))

        def step(label: str) -> None:
            progress.update(task, completed=stages.index(label), description=f"Week {week}: {label}")

        return run_week(conn, settings, week, progress=step)


# --- send / outbox ---------------------------------------------------------------------------

WeekOption = Annotated[str | None, typer.Option(help="Only this ISO week (e.g. 2026-W05); default: every week.")]


@app.command()
@handles_errors
def send(week: WeekOption = None) -> None:
    """Send the digests still waiting (queued, deferred, or in flight when a run stopped) over SMTP."""
    settings = _settings()
    if settings.delivery.mode != "smtp":
        raise ConfigError(
            '`retention send` needs [delivery] mode = "smtp" (or RETENTION_DELIVERY__MODE=smtp);'
            " in files mode `retention run` writes the digests to the outbox folder"
        )
    report = _send(settings, week)
    if not report.pending:
        console.print("Nothing to send: every digest has been accepted by the mail server (or failed for good).")
        return
    states = ", ".join(f"{n:,} {state}" for state, n in sorted(report.states.items()))
    console.print(f"{report.pending:,} digests in {report.seconds:.1f} s ({report.per_second:,.0f}/s): {states}.")
    if report.resumed:
        console.print(
            f"{report.resumed:,} were in flight when an earlier run stopped and were sent again with their"
            " original Message-ID (receivers can drop a duplicate)."
        )
    if report.states.get("deferred") or report.states.get("failed_permanent"):
        console.print("See `retention outbox status` for the reasons; deferred digests go out with the next send.")


def _send(settings: Any, week_text: str | None) -> Any:
    from pipelines.sending import send_pending
    from pipelines.store import open_store
    from pipelines.weeks import IsoWeek

    week = str(IsoWeek.parse(week_text)) if week_text else None
    with open_store(settings.store.path) as conn, _progress() as progress:
        task = progress.add_task("Sending digests", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=f"Sending digests ({done:,}/{total:,})")

        return send_pending(conn, settings, week=week, progress=step)


@outbox_app.command("status")
@handles_errors
def outbox_status(week: WeekOption = None) -> None:
    """Digests by state, and the ones not delivered with the server's reason (no bodies, no addresses)."""
    from pipelines.sending import STATES
    from pipelines.sending import outbox_status as status
    from pipelines.store import open_store
    from pipelines.weeks import IsoWeek

    settings = _settings()
    with open_store(settings.store.path, read_only=True) as conn:
        counts, problems = status(conn, str(IsoWeek.parse(week)) if week else None)
    table = Table(title="Outbox" + (f" {week}" if week else ""), show_header=False)
    table.add_column("state")
    table.add_column("digests", justify="right")
    for state in STATES:
        table.add_row(state, f"{counts.get(state, 0):,}")
    console.print(table)
    if problems:
        failures = Table(title="Not delivered (yet)")
        for column in ("week", "manager", "state", "attempts", "last error"):
            failures.add_column(column)
        for week_, manager, state, attempts, error in problems:
            failures.add_row(escape(week_), escape(manager), state, str(attempts), escape(error or ""))
        console.print(failures)


@outbox_app.command("retry")
@handles_errors
def outbox_retry(
    failed: Annotated[bool, typer.Option("--failed", help="Requeue digests that failed permanently (5xx).")] = False,
    week: WeekOption = None,
) -> None:
    """Put failed digests back in the queue, e.g. after an address or the relay was fixed."""
    from pipelines.sending import retry_failed
    from pipelines.store import open_store
    from pipelines.weeks import IsoWeek

    if not failed:
        raise ConfigError("say what to retry: `retention outbox retry --failed`")
    settings = _settings()
    with open_store(settings.store.path) as conn:
        n = retry_failed(conn, str(IsoWeek.parse(week)) if week else None)
    console.print(f"{n:,} failed digests queued again; `retention send` delivers them.")


# --- report ---------------------------------------------------------------------------------


@app.command()
@handles_errors
def report(
    week: Annotated[str | None, typer.Option(help="ISO week such as 2026-W05; default: the current week.")] = None,
) -> None:
    """Write the HR summary for a week (HTML and JSON): counts by group, never a person."""
    settings = _settings()
    written = _report(settings, week)
    summary = written.summary
    nudges = summary.get("nudges", {})
    console.print(
        f"HR summary for {escape(summary['week'])}: {nudges.get('total', 0):,} nudges,"
        f" groups under {summary['min_group_size']} withheld."
    )
    console.print(f"Written to {escape(str(written.html_path))} and {escape(written.json_path.name)}.")


def _report(settings: Any, week_text: str | None) -> Any:
    from pipelines.hr_report import write_report
    from pipelines.store import open_store
    from pipelines.weekly import plan_week
    from pipelines.weeks import IsoWeek

    week = IsoWeek.parse(week_text) if week_text else IsoWeek.containing(date.today())
    with open_store(settings.store.path, read_only=True) as conn, _progress() as progress:
        progress.add_task(f"Week {week}: HR summary", total=None)
        return write_report(conn, plan_week(conn, settings, week), settings)


# --- preview --------------------------------------------------------------------------------


@app.command()
@handles_errors
def preview(
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="A change to try, as SECTION.KEY=VALUE (repeatable), e.g. nudges.per_manager=5."),
    ] = None,
    week: Annotated[str | None, typer.Option(help="ISO week such as 2026-W05; default: the current week.")] = None,
    manager: Annotated[
        str | None, typer.Option(help="Print this manager's would-be digest under the changed settings.")
    ] = None,
    html: Annotated[Path | None, typer.Option(help="With --manager: also write the digest's HTML to this file.")] = None,
    ids: Annotated[bool, typer.Option("--ids", help="List the employee ids newly included, dropped or changed.")] = False,
) -> None:
    """Show what a config change would do to a week, without sending or storing anything."""
    from pipelines.preview import changed_keys, parse_sets

    overrides = parse_sets(set_ or [])
    current, proposed = _settings(), _settings(overrides)
    comparison, digest = _preview(current, proposed, week, manager)
    _print_preview(comparison, changed_keys(overrides) or "no changes (pass --set SECTION.KEY=VALUE)", ids)
    if manager is not None:
        _print_manager_digest(manager, digest, html)


def _preview(current: Any, proposed: Any, week_text: str | None, manager: str | None) -> tuple[Any, Any]:
    from pipelines.preview import compare, side
    from pipelines.store import open_store
    from pipelines.weekly import plan_week, render_one
    from pipelines.weeks import IsoWeek

    week = IsoWeek.parse(week_text) if week_text else IsoWeek.containing(date.today())
    # Read-only: the database refuses any write, whatever the code below does.
    with open_store(current.store.path, read_only=True) as conn, _progress() as progress:
        task = progress.add_task(f"Week {week}: current settings", total=None)
        before = plan_week(conn, current, week)
        progress.update(task, description=f"Week {week}: proposed settings")
        after = plan_week(conn, proposed, week)
        digest = render_one(conn, after, proposed, manager) if manager is not None else None
    comparison = compare(
        side(before.selection, threshold=before.threshold, method=before.scores.method),
        side(after.selection, threshold=after.threshold, method=after.scores.method),
    )
    return comparison, digest


def _print_preview(comparison: Any, changes: str, ids: bool) -> None:
    cur, new = comparison.current, comparison.proposed
    table = Table(title="Preview: current settings vs proposed", caption=escape(changes))
    table.add_column("what")
    table.add_column("current", justify="right")
    table.add_column("proposed", justify="right")
    table.add_column("change", justify="right")

    def row(label: str, a: float, b: float, fmt: str = "{:,}") -> None:
        diff = b - a
        table.add_row(label, fmt.format(a), fmt.format(b), "" if diff == 0 else ("+" if diff > 0 else "") + fmt.format(diff))

    table.add_row("score", cur.method, new.method, "")
    row("risk threshold", cur.threshold, new.threshold, "{:.2f}")
    row("managers emailed", len(cur.managers), len(new.managers))
    row("nudges", cur.nudges, new.nudges)
    for kind in comparison.kinds():
        row(f"  {kind}", cur.by_kind.get(kind, 0), new.by_kind.get(kind, 0))
    console.print(table)
    console.print(
        f"People newly included: {len(comparison.newly_included):,}; dropped: {len(comparison.dropped):,};"
        f" same person, different nudge: {len(comparison.kind_changed):,}. Managers added:"
        f" {len(comparison.managers_added):,}; no longer emailed: {len(comparison.managers_removed):,}."
    )
    if ids:
        for label, values in (
            ("newly included", comparison.newly_included),
            ("dropped", comparison.dropped),
            ("different nudge", comparison.kind_changed),
            ("managers added", comparison.managers_added),
            ("managers no longer emailed", comparison.managers_removed),
        ):
            if values:
                console.print(f"{label}: {escape(', '.join(values))}", soft_wrap=True)
    console.print("Nothing was sent or stored.")


def _print_manager_digest(manager: str, digest: Any, html: Path | None) -> None:
    if digest is None:
        console.print(f"Manager {escape(manager)} would get no digest under the proposed settings.")
        return
    console.rule(f"Would-be digest for {escape(manager)}: {escape(digest.subject)}")
    console.print(escape(digest.text), highlight=False, soft_wrap=True)
    if html is not None:
        from pipelines.files import atomic_write

        atomic_write(html, digest.html.encode("utf-8"))
        console.print(f"HTML written to {escape(str(html))}.")


def _print_week(report: Any) -> None:
    table = Table(title=f"Week {report.week}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("people on the roster", f"{report.people:,}")
    table.add_row("star performers", f"{report.stars:,}")
    table.add_row(f"stars above the threshold ({report.score_method})", f"{report.stars_flagged:,}")
    table.add_row("managers emailed", f"{report.managers_emailed:,}")
    table.add_row("nudges", f"{report.nudges:,}")
    for kind, count in sorted(report.nudges_by_kind.items()):
        table.add_row(f"  {kind}", f"{count:,}")
    table.add_row("rows in quarantine", f"{report.quarantined_rows:,}")
    console.print(table)
    if report.score_note:
        console.print(f"Scored with {escape(report.score_note)}.")
    if report.digests_existing:
        console.print(
            f"{report.digests_existing:,} digests for {report.week} were already in the outbox: nothing was sent twice."
        )
    if report.digests_skipped:
        console.print(f"{report.digests_skipped:,} digests skipped: the manager's email address is unusable.")
    if report.outbox_folder and (report.managers_emailed or report.digests_new or report.digests_existing):
        console.print(f"Digests are in {report.outbox_folder}/ (one .eml and one .html preview per manager).")
    elif not report.managers_emailed:
        console.print("No digests this week: no star performer's signals crossed the threshold.")
    if report.delivery:
        states = ", ".join(f"{n:,} {state}" for state, n in sorted(report.delivery.items()))
        console.print(f"Sent over SMTP: {states}.")
    if report.hr_summary:
        console.print(f"HR summary: {escape(report.hr_summary)} (and .json beside it).")


# --- model ---------------------------------------------------------------------------------


@model_app.command("train")
@handles_errors
def model_train() -> None:
    """Train on monthly snapshots in the store, calibrate, save with a model card, print metrics."""
    settings = _settings()
    card = _train(settings)
    _print_card(card)
    console.print(f"Saved to {escape(str(settings.model.dir))}/ (model.skops, card.json, card.html).")


def _train(settings: Any) -> dict[str, Any]:
    from models.card import card_html
    from models.persist import save
    from pipelines.store import open_store
    from pipelines.training import train_from_store

    with open_store(settings.store.path) as conn, _progress() as progress:
        task = progress.add_task("Building snapshots", total=None)
        _, trained = train_from_store(
            conn, settings, progress=lambda label: progress.update(task, description=label.capitalize())
        )
    save(trained.estimator, trained.card, settings.model.dir, card_html=card_html(trained.card))
    return trained.card


def _print_card(card: dict[str, Any]) -> None:
    from models.card import card_lines

    table = Table(title="Model card", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for label, value in card_lines(card):
        table.add_row(escape(label), escape(value))
    console.print(table)


@model_app.command("card")
@handles_errors
def model_card(
    html: Annotated[bool, typer.Option("--html", help="Print the path of the HTML card instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the card as JSON.")] = False,
) -> None:
    """Show the current model's card: data, features, chosen estimator, metrics, calibration, groups."""
    from models.persist import CARD_HTML, read_card

    settings = _settings()
    card = read_card(settings.model.dir)
    if as_json:
        typer.echo(json.dumps(card, indent=2, sort_keys=True))
    elif html:
        typer.echo(str(settings.model.dir / CARD_HTML))
    else:
        _print_card(card)
        for column, rows in card["validation"]["groups"].items():
            table = Table(title=f"By {column}", show_header=True)
            for head in (column, "rows", "leaver rate", "flag rate"):
                table.add_column(head)
            for row in rows:
                rates = [f"{r:.3f}" if r is not None else "withheld" for r in (row["leaver_rate"], row["flag_rate"])]
                table.add_row(escape(str(row["group"])), f"{row['n']:,}", *rates)
            console.print(table)


@model_app.command("benchmark")
@handles_errors
def model_benchmark(
    file: Annotated[Path, typer.Argument(help="A flat table (.csv or .parquet), one row per person.")],
    label: Annotated[str, typer.Option(help="The column that says who left.")],
    positive: Annotated[str, typer.Option(help="The value of --label that means 'left', e.g. Yes.")],
    drop: Annotated[str, typer.Option(help="Comma-separated columns to leave out.")] = "",
    folds: Annotated[int, typer.Option(min=2, max=20, help="Outer cross-validation folds.")] = 5,
    allow_protected: Annotated[
        bool, typer.Option("--allow-protected", help="Let protected attributes (age, gender, ...) be features.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Cross-validate the same model selection on any table: ROC-AUC, PR-AUC, Brier per candidate."""
    from models.benchmark import load_table, run_benchmark

    X, y = load_table(file, label=label, positive=positive, drop=[c for c in drop.split(",") if c.strip()])
    if as_json:
        result = run_benchmark(X, y, folds=folds, allow_protected=allow_protected)
        typer.echo(json.dumps(result, indent=2, sort_keys=True, default=float))
        return
    with _progress() as progress:
        progress.add_task(f"Cross-validating {folds} folds", total=None)
        result = run_benchmark(X, y, folds=folds, allow_protected=allow_protected)
    table = Table(title=f"{escape(file.name)}: {result['rows']:,} rows, {result['positives']:,} positive", show_header=True)
    for head in ("model", "ROC-AUC", "PR-AUC", "Brier"):
        table.add_column(head)
    for name, m in result["candidates"].items():
        table.add_row(name, f"{m['roc_auc']:.4f}", f"{m['pr_auc']:.4f}", f"{m['brier']:.4f}")
    table.add_row(f"selected ({result['selected']}, calibrated)", f"{result['roc_auc']:.4f}", f"{result['pr_auc']:.4f}", f"{result['brier']:.4f}")
    console.print(table)
    if result["protected_excluded"]:
        console.print(f"Excluded as protected: {escape(', '.join(result['protected_excluded']))} (--allow-protected to include).")
    if result["dropped"]:
        console.print("Left out: " + escape(", ".join(f"{c} ({why})" for c, why in result["dropped"].items())))


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
    """Synthetic org -> ingest -> score -> nudges -> digests in ./outbox/, in one go."""
    settings = _settings()
    started = time.perf_counter()
    _guard_demo_store(settings, data)
    synth_result = _synthesise(data, employees=employees, months=months, seed=seed, end=date.today())
    console.print(f"Generated {synth_result.employees:,} employees into {data}/")
    ingest_report = _ingest(settings, data)
    console.print(
        f"Ingested {ingest_report.rows_loaded:,} rows into {settings.store.path}"
        f" ({ingest_report.rows_quarantined:,} bad rows quarantined)"
    )
    _demo_model(settings)
    report = _run_week(settings, None)
    _print_week(report)
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")


def _demo_model(settings: Any) -> None:
    """Train when the synthetic history allows it; otherwise the run says it used the rules score."""
    from pipelines.errors import ModelError

    try:
        card = _train(settings)
    except ModelError as exc:
        console.print(f"No model trained ({escape(str(exc))}).")
        return
    console.print(
        f"Trained a {card['estimator']} model on {card['rows']:,} snapshot rows:"
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
    from pipelines.settings import resolve_config_path, settings_as_dict

    settings = _settings()
    source = resolve_config_path(_State.config)
    console.print(f"# effective configuration (file: {source or 'none, defaults'}; env RETENTION_* applied)")
    for section, values in settings_as_dict(settings).items():
        console.print(f"\n[{section}]", markup=False, highlight=False)
        for key, value in values.items():
            console.print(f"{key} = {json.dumps(value)}", markup=False, highlight=False)


def main() -> None:
    app()
