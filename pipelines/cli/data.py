"""Data in: `retention synth`, `retention ingest` and `retention demo` (synthetic org -> digests in one go)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli.common import (
    _parse_date,
    _plural,
    _progress,
    _settings,
    command_group,
    console,
    err_console,
    handles_errors,
)
from pipelines.cli.model import _train
from pipelines.cli.week import _print_week, _run_week
from pipelines.demo import guard_demo_store

app = command_group()

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
    guard_demo_store(settings.store.path, data)
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
