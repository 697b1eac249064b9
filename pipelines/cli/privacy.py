"""`retention explain`, `retention forget` and `retention opt-out`: data rights, for HR."""

from __future__ import annotations

import getpass
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

opt_out_app = command_group("People never scored, never named in a digest, not used for training.")
app.add_typer(opt_out_app, name="opt-out")

ActorOption = Annotated[
    str | None, typer.Option(help="Who is doing this, for the audit table; default: your login name.")
]


def _actor(actor: str | None) -> str:
    if actor is not None and actor.strip():
        return actor.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. a container user without an entry)
        return "unknown"


# --- explain ---------------------------------------------------------------------------------


@app.command()
@handles_errors
def explain(
    employee_id: Annotated[str, typer.Argument(help="The person's employee id, as in the employees file.")],
    html: Annotated[Path | None, typer.Option(help="Also write the page as HTML to this file.")] = None,
    week: Annotated[
        str | None, typer.Option(metavar="YYYY-Www", help="ISO week for features and score; default: the latest week run.")
    ] = None,
    actor: ActorOption = None,
) -> None:
    """For HR: what the store holds on one person, their latest score's drivers and every nudge about them."""
    from pipelines.privacy.explain import explanation_html, explanation_text

    settings = _settings()
    explanation = _explain(settings, employee_id, week, _actor(actor))
    console.print(escape(explanation_text(explanation)), highlight=False, soft_wrap=True)
    if html is not None:
        from core.files import atomic_write

        atomic_write(html, explanation_html(explanation).encode("utf-8"))
        console.print(f"HTML written to {escape(str(html))}.")


def _explain(settings: Any, employee_id: str, week_text: str | None, actor: str) -> Any:
    from models.dataset import attributes_frame
    from pipelines.privacy.explain import ExplainOptions, explain
    from pipelines.store import open_store
    from pipelines.weekly.plan import score_stage
    from pipelines.weeks import IsoWeek

    with open_store(settings.store.path, memory_limit=settings.store.memory_limit) as conn, _progress() as progress:
        progress.add_task("Explaining", total=None)
        extras = settings.ingest.extra_columns
        attributes = attributes_frame(conn, extras) if extras else None
        options = ExplainOptions(
            actor=actor,
            week=IsoWeek.parse(week_text) if week_text else None,
            score=lambda features: score_stage(features, settings, attributes),
        )
        return explain(conn, employee_id, options)


# --- forget ----------------------------------------------------------------------------------


@app.command()
@handles_errors
def forget(
    employee_id: Annotated[str, typer.Argument(help="The person's employee id, as in the employees file.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking (after showing what goes).")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Forget an id the store does not hold yet (known only to a future file).")
    ] = False,
    actor: ActorOption = None,
) -> None:
    """Erase one person: every row about them, digests naming them redacted; audited without their id."""
    from pipelines.privacy.forget import forget
    from pipelines.privacy.retention import compact_store
    from pipelines.store import open_store

    settings = _settings()
    who = _actor(actor)
    path, outbox = settings.store.path, settings.delivery.outbox_dir
    with open_store(path, memory_limit=settings.store.memory_limit) as conn:
        planned = forget(conn, employee_id, outbox, actor=who, dry_run=True, force=force)
    _print_forget(planned, title=f"Forgetting {escape(employee_id)} would")
    if not yes:
        typer.confirm("Erase this person's data? This cannot be undone", abort=True)
    with open_store(path, memory_limit=settings.store.memory_limit) as conn:
        done = forget(conn, employee_id, outbox, actor=who, force=force)
    with _progress() as progress:
        progress.add_task("Rewriting the store without the deleted rows", total=None)
        compact_store(path)
    _print_forget(done, title="Done")
    console.print(
        "Recorded in the audit table with counts only; a later drop file that still lists them is ignored for them."
        " Copies outside the store (drop folders, backups, a model trained before today) are not touched."
    )


def _print_forget(report: Any, *, title: str) -> None:
    table = Table(title=f"{title}: {_plural(report.rows_deleted, 'row')} deleted", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, n in sorted(report.deleted.items()):
        table.add_row(f"rows deleted from {escape(name)}", f"{n:,}")
    moved = "reports moved to the skip-level manager" if not report.to_top else "reports now without a manager"
    for label, n in (
        (moved, report.reports_moved),
        ("recognition they gave, kept without a giver", report.recognition_kept),
        ("other managers' digests naming them, redacted", report.digests_redacted),
        ("outbox files deleted", report.files_deleted),
        ("outbox files replaced by a placeholder", report.files_redacted),
        ("audit rows naming them, scrubbed", report.audit_scrubbed),
    ):
        table.add_row(label, f"{n:,}")
    console.print(table)
    if not report.on_roster:
        console.print("They are not on the current roster; only the records above were found.")


# --- opt-out ---------------------------------------------------------------------------------

IdsArgument = Annotated[list[str], typer.Argument(help="Employee ids, as in the employees file.")]


@opt_out_app.command("add")
@handles_errors
def opt_out_add(
    ids: IdsArgument,
    force: Annotated[
        bool, typer.Option("--force", help="Opt out ids the roster does not hold yet (known only to a future file).")
    ] = False,
    actor: ActorOption = None,
) -> None:
    """Opt people out from the next run on (never scored, never named, not trained on)."""
    from pipelines.privacy.optout import add_opt_outs

    added = _with_store(lambda conn: add_opt_outs(conn, ids, actor=_actor(actor), force=force))
    console.print(f"{added:,} opted out ({len(set(ids)) - added:,} already were).")


@opt_out_app.command("remove")
@handles_errors
def opt_out_remove(ids: IdsArgument, actor: ActorOption = None) -> None:
    """Opt people back in (an id still in [privacy] opt_out_file returns at the next sync)."""
    from pipelines.privacy.optout import remove_opt_outs

    removed = _with_store(lambda conn: remove_opt_outs(conn, ids, actor=_actor(actor)))
    console.print(f"{removed:,} opted back in ({len(set(ids)) - removed:,} were not opted out).")


@opt_out_app.command("list")
@handles_errors
def opt_out_list() -> None:
    """Print how many people opted out, and their ids (with where each came from)."""
    from pipelines.privacy.optout import list_opt_outs, sync_opt_out_file

    settings = _settings()
    rows = _with_store(lambda conn: (sync_opt_out_file(conn, settings.privacy.opt_out_file), list_opt_outs(conn))[1])
    console.print(f"{_plural(len(rows), 'person', 'people')} opted out.")
    for employee_id, source, added_at in rows:
        console.print(f"{escape(employee_id)}  ({source}, since {added_at:%Y-%m-%d})", highlight=False)


def _with_store(work: Any) -> Any:
    from pipelines.store import open_store

    settings = _settings()
    with open_store(settings.store.path, memory_limit=settings.store.memory_limit) as conn:
        return work(conn)
