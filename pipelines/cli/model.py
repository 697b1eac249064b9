"""`retention model train | card | benchmark`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli.common import (
    _settings,
    command_group,
    console,
    err_console,
    handles_errors,
    model_progress,
)

app = command_group("Train, inspect and benchmark the flight-risk model.")

# --- model ---------------------------------------------------------------------------------


@app.command("train")
@handles_errors
def model_train() -> None:
    """Train on monthly snapshots in the store, calibrate, save with a model card, print metrics."""
    settings = _settings()
    card = _train(settings)
    _print_card(card)
    console.print(f"Saved to {escape(str(settings.model.dir))}/ (model.skops, card.json, card.html).")


def _train(settings: Any) -> dict[str, Any]:
    from models.cores import warm_up

    warm_up(settings.model.n_jobs)  # the workers start while the snapshots are built
    from models.card import card_html
    from models.persist import save
    from pipelines.training import train_stored

    with model_progress("Training") as step:
        _, trained = train_stored(settings, progress=step)
    save(trained.estimator, trained.card, settings.model.dir, card_html=card_html(trained.card))
    _print_warnings(trained.card.get("warnings", []))
    if trained.card.get("time_budget", {}).get("reached"):
        console.print(f"Note: {escape(trained.card['time_budget']['note'])}.")
    return trained.card


def _print_warnings(warnings: list[dict[str, Any]]) -> None:
    for warning in warnings:
        err_console.print(f"[bold yellow]warning:[/] {escape(str(warning['message']))}", highlight=False, soft_wrap=True)


def _print_card(card: dict[str, Any]) -> None:
    from models.card import card_lines

    table = Table(title="Model card", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for label, value in card_lines(card):
        table.add_row(escape(label), escape(value))
    console.print(table)


@app.command("card")
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


@app.command("benchmark")
@handles_errors
def model_benchmark(
    file: Annotated[Path, typer.Argument(help="A flat table (.csv or .parquet), one row per person.")],
    label: Annotated[str, typer.Option(help="The column that says who left.")],
    positive: Annotated[str, typer.Option(help="The value of --label that means 'left', e.g. Yes.")],
    drop: Annotated[str, typer.Option(help="Comma-separated columns to leave out.")] = "",
    group: Annotated[
        str,
        typer.Option(help="Column naming the person (or group) behind each row: its rows stay in one fold."),
    ] = "",
    folds: Annotated[int, typer.Option(min=2, max=20, help="Outer cross-validation folds.")] = 5,
    allow_protected: Annotated[
        bool, typer.Option("--allow-protected", help="Let protected attributes (age, gender, ...) be features.")
    ] = False,
    n_jobs: Annotated[
        int | None, typer.Option("--n-jobs", help="Worker processes (-1 every core, 1 none); default [model] n_jobs.")
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds after which selection starts no new candidate (0: none); default [model]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Cross-validate the same model selection on any table, beside three plain baselines: ROC-AUC, PR-AUC, Brier."""
    from models.cores import warm_up

    settings = _settings()
    jobs = settings.model.n_jobs if n_jobs is None else n_jobs
    if jobs == 0:
        raise typer.BadParameter("use 1 for no worker processes or -1 for every core", param_hint="--n-jobs")
    warm_up(jobs)  # the workers start while this process imports scikit-learn and reads the file
    from models.benchmark import run_benchmark
    from models.table import load_table

    budget = settings.model.time_budget_seconds if time_budget is None else time_budget
    columns = [c for c in drop.split(",") if c.strip()]
    X, y = load_table(file, label=label, positive=positive, drop=columns, keep=[group] if group else [])
    groups = X.pop(group.strip()).astype(str).to_numpy() if group else None
    with model_progress(f"Benchmarking {file.name}", lines=not as_json) as step:
        result = run_benchmark(
            X,
            y,
            folds=folds,
            groups=groups,
            allow_protected=allow_protected,
            n_jobs=jobs,
            budget_seconds=budget or None,
            progress=step,
        )
    if group:
        result["grouped_by"] = group.strip()
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True, default=float))
        return
    _print_benchmark(file, result)


def _print_benchmark(file: Path, result: dict[str, Any]) -> None:
    title = f"{escape(file.name)}: {result['rows']:,} rows, {result['positives']:,} positive, {result['folds']} folds"
    if result.get("grouped_by"):
        title += f" grouped by {escape(result['grouped_by'])} ({result['groups']:,} groups)"
    table = Table(title=title, show_header=True)
    for head in ("model", "ROC-AUC", "PR-AUC", "Brier"):
        table.add_column(head)
    table.add_row(
        f"selected ({result['selected']}, calibrated)",
        *(f"{result[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier")),
    )
    for name, m in result["baselines"].items():
        table.add_row(f"baseline: {name}", *(f"{m[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier")))
    console.print(table)
    inner = ", ".join(f"{name} {c['inner_roc_auc']:.3f}" for name, c in result["candidates"].items())
    console.print(f"Candidates (mean inner-fold ROC-AUC): {escape(inner)}.")
    console.print(
        f"Selection vs best baseline ({escape(result['best_baseline'])}): {result['vs_best_baseline']:+.4f} ROC-AUC."
    )
    if result["time_budget"]["reached"]:
        console.print(
            f"Time budget of {result['time_budget']['seconds']:g} s reached; not tried:"
            f" {escape(', '.join(result['time_budget']['not_tried']))}."
        )
    if result["protected_excluded"]:
        console.print(f"Excluded as protected: {escape(', '.join(result['protected_excluded']))} (--allow-protected to include).")
    if result["dropped"]:
        console.print("Left out: " + escape(", ".join(f"{c} ({why})" for c, why in result["dropped"].items())))
    _print_warnings(result["warnings"])
    processes = result["processes"]
    console.print(
        f"{result['seconds']:.1f} s wall, {result['cpu_seconds']:.1f} s CPU in {processes} process{'es' if processes > 1 else ''}."
    )
