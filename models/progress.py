"""What long model work reports as it goes: a plain callback, so models/ needs no terminal library.

The CLI turns each `Step` into a rich progress bar on a terminal and into one
line otherwise; a flow or a test can collect them or ignore them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One piece of work just finished, and how far along the whole job is (`done` of `total` pieces)."""

    text: str
    done: int
    total: int
    candidate: int | None = None  # candidate i (from 1) ...
    candidates: int | None = None  # ... of n
    fold: int | None = None  # fold (or validation window) k (from 1) ...
    folds: int | None = None  # ... of K


Progress = Callable[[Step], None]


def silent(_step: Step) -> None:
    """A progress callback that shows nothing."""


class Counter:
    """Numbers the steps of one job: `advance` reports the next finished piece to `progress`."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress or silent
        self.total = total
        self.done = 0

    def grow(self, pieces: int) -> None:
        """More pieces than first counted (e.g. once the candidates for a table size are known)."""
        self.total += pieces

    def advance(self, text: str, **where: int) -> None:
        self.done += 1
        self.progress(Step(text=text, done=self.done, total=max(self.total, self.done), **where))

    def skip(self, pieces: int, text: str) -> None:
        """Pieces that will never run (a time budget): counted out, and said once."""
        self.total -= pieces
        self.progress(Step(text=text, done=self.done, total=max(self.total, self.done)))
