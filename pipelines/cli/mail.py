"""`retention send` and `retention outbox ...`: SMTP delivery from the command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli.common import (
    ConfigError,
    WeekOption,
    _plural,
    _progress,
    _settings,
    command_group,
    console,
    handles_errors,
)

app = command_group()
outbox_app = command_group("Inspect and retry the outbox of digests.")
app.add_typer(outbox_app, name="outbox")

# --- send / outbox ---------------------------------------------------------------------------

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
    console.print(f"{_plural(report.pending, 'digest')} in {report.seconds:.1f} s ({report.per_second:,.0f}/s): {states}.")
    if report.resumed:
        console.print(
            f"{report.resumed:,} were in flight when an earlier run stopped and were sent again with their"
            " original Message-ID (receivers can drop a duplicate)."
        )
    if report.states.get("deferred") or report.states.get("failed_permanent"):
        console.print("See `retention outbox status` for the reasons; deferred digests go out with the next send.")


def _send(settings: Any, week_text: str | None) -> Any:
    from nudges.delivery.send import send_pending
    from pipelines.options import send_options
    from pipelines.store import open_store
    from pipelines.weeks import IsoWeek

    week = str(IsoWeek.parse(week_text)) if week_text else None
    with open_store(settings.store.path, memory_limit=settings.store.memory_limit) as conn, _progress() as progress:
        task = progress.add_task("Sending digests", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=f"Sending digests ({done:,}/{total:,})")

        return send_pending(conn, send_options(settings), week=week, progress=step)


@outbox_app.command("status")
@handles_errors
def outbox_status(week: WeekOption = None) -> None:
    """Digests by state, and the ones not delivered with the server's reason (no bodies, no addresses)."""
    from nudges.delivery.outbox import STATES
    from nudges.delivery.outbox import outbox_status as status
    from pipelines.store import open_store
    from pipelines.weeks import IsoWeek

    settings = _settings()
    with open_store(settings.store.path, read_only=True, memory_limit=settings.store.memory_limit) as conn:
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
    from nudges.delivery.outbox import retry_failed
    from pipelines.store import open_store
    from pipelines.weeks import IsoWeek

    if not failed:
        raise ConfigError("say what to retry: `retention outbox retry --failed`")
    settings = _settings()
    with open_store(settings.store.path, memory_limit=settings.store.memory_limit) as conn:
        n = retry_failed(conn, str(IsoWeek.parse(week)) if week else None)
    console.print(f"{_plural(n, 'failed digest')} queued again; `retention send` delivers them.")
