"""What every `retention` command shares: the consoles, error handling, settings, progress."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from core.errors import ConfigError, RetentionError

P = ParamSpec("P")
R = TypeVar("R")

def command_group(help: str | None = None) -> typer.Typer:
    """A command group: plain help text (no `<bool>` markup), its help when called bare."""
    return typer.Typer(rich_markup_mode=None, no_args_is_help=True, help=help)

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


WeekOption = Annotated[str | None, typer.Option(metavar="YYYY-Www", help="Only this ISO week (e.g. 2026-W05); default: every week.")]


class _State:
    config: Path | None = None


def _log_our_stages() -> None:
    """--verbose: our own `retention.*` loggers (stages, ids and counts), not every library's.

    On the root logger, Prefect's HTTP client logged each request to its local API; and Prefect's
    own console handler sits on the root logger, so ours do not propagate there.
    """
    ours = logging.getLogger("retention")
    if not any(isinstance(h, RichHandler) for h in ours.handlers):
        ours.addHandler(RichHandler(console=err_console, show_path=False, markup=False))
    ours.setLevel(logging.INFO)
    ours.propagate = False


def _settings(overrides: dict[str, Any] | None = None) -> Any:
    from pipelines.config import load_settings

    return load_settings(_State.config, overrides=overrides)


def _progress() -> Progress:
    """A live bar on a terminal; elsewhere (a log file, CI) one line per step, so long work is never silent."""
    if not err_console.is_terminal:
        return _LineProgress(console=err_console)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


class _LineProgress(Progress):
    """Rich's Progress API, printed as plain lines: each new step once, with the seconds since the start.

    Counts that change within a step ("Sending digests (1,200/5,000)") print at most once per
    `EVERY_S`; a step's name (its text before any "(") always prints when it changes.
    """

    EVERY_S = 2.0

    def __init__(self, *, console: Console) -> None:
        super().__init__(console=console, disable=True)
        self._started = time.monotonic()
        self._last_line = ""
        self._last_at = 0.0

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> Any:
        task = super().add_task(description, *args, **kwargs)
        self._line(description)
        return task

    def update(self, task_id: Any, *args: Any, description: str | None = None, **kwargs: Any) -> None:
        super().update(task_id, *args, description=description, **kwargs)
        if description is not None:
            self._line(description)

    def _line(self, description: str) -> None:
        now = time.monotonic()
        step = description.split("(")[0].strip()
        if description == self._last_line:
            return
        if step == self._last_line.split("(")[0].strip() and now - self._last_at < self.EVERY_S:
            return
        self._last_line, self._last_at = description, now
        self.console.print(f"[{now - self._started:5.1f} s] {escape(description)}", highlight=False, soft_wrap=True)


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    """"1 row", "2,000 rows": the count with the noun that agrees with it."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
@contextmanager
def model_progress(title: str, *, lines: bool = True) -> Iterator[Callable[[Any], None]]:
    """A callback for `models.progress.Step`s: a rich bar on a terminal, else one line per step on stderr.

    `lines=False` (e.g. with --json) keeps a non-terminal stderr quiet; a terminal still gets the
    bar, which disappears when the work is done.
    """
    if err_console.is_terminal:
        with _progress() as progress:
            task = progress.add_task(title, total=None)

            def draw(step: Any) -> None:
                progress.update(task, description=escape(f"{title}: {step.text}"), completed=step.done, total=step.total)

            yield draw
        return

    def line(step: Any) -> None:
        if lines:
            err_console.print(escape(f"{title}: [{step.done}/{step.total}] {step.text}"), highlight=False, soft_wrap=True)

    yield line


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date like 2026-06-30") from None


class _StageHandler(logging.Handler):
    """Turns the stages' own announcements (`retention.stage`) into the progress line's text."""

    def __init__(self, progress: Progress, task: Any, title: str) -> None:
        super().__init__(logging.INFO)
        self.progress, self.task, self.title = progress, task, title

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "stage", None):
            self.progress.update(self.task, description=f"{self.title}: {record.getMessage()}")


@contextlib.contextmanager
def _stage_progress(title: str) -> Iterator[None]:
    """Progress for work that announces its stages by logging (the weekly run, direct or under Prefect)."""
    stages = logging.getLogger("retention.stage")
    with _progress() as progress:
        handler = _StageHandler(progress, progress.add_task(title, total=None), title)
        stages.addHandler(handler)
        level, propagate = stages.level, stages.propagate
        if not stages.isEnabledFor(logging.INFO):
            stages.setLevel(logging.INFO)
            # Enabled only for the progress line: not for Prefect's handler on the root logger.
            stages.propagate = False
        try:
            yield
        finally:
            stages.removeHandler(handler)
            stages.setLevel(level)
            stages.propagate = propagate
