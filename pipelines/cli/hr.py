"""`retention report` and `retention preview`: what HR reads and tries."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli.common import (
    _plural,
    _progress,
    _settings,
    command_group,
    console,
    handles_errors,
)

app = command_group()

# --- report ---------------------------------------------------------------------------------


@app.command()
@handles_errors
def report(
    week: Annotated[str | None, typer.Option(metavar="YYYY-Www", help="ISO week such as 2026-W05; default: the current week.")] = None,
) -> None:
    """Write the HR summary for a week (HTML and JSON): counts by group, never a person."""
    settings = _settings()
    written = _report(settings, week)
    summary = written.summary
    nudges = summary.get("nudges", {})
    console.print(
        f"HR summary for {escape(summary['week'])}: {_plural(nudges.get('total', 0), 'nudge')},"
        f" groups under {summary['min_group_size']} withheld."
    )
    console.print(f"Written to {escape(str(written.html_path))} and {escape(written.json_path.name)}.")


def _report(settings: Any, week_text: str | None) -> Any:
    from pipelines.hr_report import check_week_ran, write_report
    from pipelines.store import open_store
    from pipelines.weekly.plan import plan_week
    from pipelines.weeks import IsoWeek

    week = IsoWeek.parse(week_text) if week_text else IsoWeek.containing(date.today())
    with open_store(settings.store.path, read_only=True, memory_limit=settings.store.memory_limit) as conn, _progress() as progress:
        check_week_ran(conn, str(week))
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
    week: Annotated[str | None, typer.Option(metavar="YYYY-Www", help="ISO week such as 2026-W05; default: the current week.")] = None,
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
    from pipelines.weekly.plan import plan_week
    from pipelines.weekly.render import render_one
    from pipelines.weeks import IsoWeek

    week = IsoWeek.parse(week_text) if week_text else IsoWeek.containing(date.today())
    # Read-only: the database refuses any write, whatever the code below does.
    with open_store(current.store.path, read_only=True, memory_limit=current.store.memory_limit) as conn, _progress() as progress:
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
        from core.files import atomic_write

        atomic_write(html, digest.html.encode("utf-8"))
        console.print(f"HTML written to {escape(str(html))}.")


# --- quarantine -----------------------------------------------------------------------------


@app.command()
@handles_errors
def quarantine(
    file: Annotated[str | None, typer.Option("--file", help="Only this file (its path in the drop folder, or its name).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only reasons containing this text, e.g. 'not a date'.")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write every matching row to this CSV file.")] = None,
    limit: Annotated[int, typer.Option(min=0, help="Rows to print (the counts always cover every row).")] = 50,
) -> None:
    """Rows set aside at ingest: counts by file and reason, then the rows (sensitive values withheld)."""
    from pipelines.quarantine import shown_value, view, write_csv
    from pipelines.store import open_store

    settings = _settings()
    with open_store(settings.store.path, read_only=True, memory_limit=settings.store.memory_limit) as conn:
        found = view(conn, file=file, reason=reason, limit=None if csv_out else limit)
    if not found.total:
        console.print("No quarantined rows" + (" match." if file or reason else ": every row of every file loaded."))
        return
    counts = Table(title=f"Quarantine: {_plural(found.total, 'row')}", show_header=True)
    for head in ("file", "reason", "rows"):
        counts.add_column(head, justify="right" if head == "rows" else "left")
    for name, why, n in found.counts:
        counts.add_row(escape(name), escape(why), f"{n:,}")
    console.print(counts)
    shown = found.rows[:limit]
    if shown:
        rows = Table(show_header=True)
        for head in ("file", "line", "column", "reason", "value"):
            rows.add_column(head)
        for r in shown:
            rows.add_row(escape(r.file), "" if r.line is None else str(r.line), escape(r.column or ""), escape(r.reason),
                         escape(shown_value(r)))
        console.print(rows)
    if found.total > len(shown):
        console.print(f"{_plural(found.total - len(shown), 'more row')} not printed; --csv FILE writes them all.")
    if csv_out is not None:
        write_csv(found.rows, csv_out)
        console.print(f"{_plural(len(found.rows), 'row')} written to {escape(str(csv_out))}.")
