"""What every `retention` command shares: the Typer apps, the consoles, error handling, settings, progress."""

from __future__ import annotations

import functools
import logging
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


WeekOption = Annotated[str | None, typer.Option(help="Only this ISO week (e.g. 2026-W05); default: every week.")]


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
