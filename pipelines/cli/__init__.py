"""The `retention` command: one Typer app joined from one module per command group.

Commands parse arguments, load settings once and print; the work is plain library
calls (sqlite-utils' cli.py over db.py is the model). Our own errors become one
readable line and exit code 1 (`common.handles_errors`).

    data      synth, ingest, demo
    week      run
    hr        report, preview, quarantine
    privacy   explain, forget, opt-out add|remove|list
    mail      send, outbox status|retry
    model     model train|card|benchmark
    config    config show
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli import config, data, hr, mail, model, privacy, week
from pipelines.cli.common import _log_our_stages, _State

__all__ = ["app", "main"]

app = typer.Typer(
    rich_markup_mode=None,
    name="retention",
    help="Weekly partnering nudges for managers of star performers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    config_file: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default: $RETENTION_CONFIG, else ./retention.toml)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage (ids and counts only).")] = False,
) -> None:
    """Weekly partnering nudges for managers of star performers."""
    _State.config = config_file
    if verbose:
        _log_our_stages()


# Top-level commands first, in the order --help lists them; then the named groups.
for group in (data, week, hr, privacy, mail):
    app.add_typer(group.app)
app.add_typer(model.app, name="model")
app.add_typer(config.app, name="config")


def main() -> None:
    try:
        app()
    finally:
        from models.cores import release  # light: threadpoolctl only

        release()  # model fits' worker processes, if any: the command is done, exit without waiting for them
