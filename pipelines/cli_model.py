"""`retention model train | card | benchmark`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli_common import (
    _progress,
    _settings,
    console,
    handles_errors,
    model_app,
)

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
    from pipelines.training import train_stored

    with _progress() as progress:
        task = progress.add_task("Building snapshots", total=None)
        _, trained = train_stored(settings, progress=lambda label: progress.update(task, description=label.capitalize()))
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
