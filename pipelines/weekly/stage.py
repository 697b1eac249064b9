"""How a weekly stage is announced and called: directly, or (in the flow) as a Prefect task.

Each stage announces itself on the `retention.stage` logger as it starts and says how
long it took: the CLI shows these as progress, `--verbose` as log lines, and the same
lines come from a Prefect run and a direct one. `run_week` calls every stage through a
`StageCall`; the flow passes one that runs each stage as its task.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

# Each stage announces itself here as it starts (and says how long it took): the CLI shows these
# as progress, --verbose as log lines. The same lines come from a Prefect run and a direct one.
stage_log = logging.getLogger("retention.stage")

F = TypeVar("F", bound=Callable[..., Any])

def announced(name: str) -> Callable[[F], F]:
    """Log `name` when the stage starts and its duration when it ends."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            stage_log.info("%s", name, extra={"stage": name})
            try:
                return func(*args, **kwargs)
            finally:
                stage_log.info("%s done in %.1f s", name, time.perf_counter() - started)

        return cast(F, inner)

    return wrap

StageCall = Callable[..., Any]
"""`call(name, stage, *args)` runs `stage(*args)` and returns its result."""


def call_directly(name: str, stage: Callable[..., Any], *args: Any) -> Any:
    """The plain way: the stage in this process, now."""
    return stage(*args)
