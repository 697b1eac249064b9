"""Use the cores once: one BLAS/OpenMP thread inside each fit, parallel across fits.

Many small fits that each start their own OpenMP threads, beside one another or
beside any other busy process, spin against each other: on 2 cores the IBM
benchmark spent 31 s of CPU for 17 s of wall time, and minutes when another
process was busy. So every fit runs with its thread pools capped at one
(threadpoolctl), and independent fits (candidates, folds) run side by side:
this process and `n_jobs - 1` worker processes (loky, the pool joblib uses),
one fit each at a time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")

ONE_THREAD_ENV = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
}
"""Set in each worker process before it loads a BLAS or OpenMP runtime, so no pool ever grows past one thread."""
QUEUED_PER_WORKER = 3
"""Tasks waiting per worker, so it has work while this process runs a long fit of its own."""
IDLE_SECONDS = 300
"""Workers stay up this long between jobs, so a second benchmark or training run skips their start-up."""

_worker_cpu = [0.0]  # CPU seconds spent in worker processes by tasks this process ran through `run_each`
_pool: list[Any] = [None]  # the worker pool this process last used, for `release`


def one_thread() -> threadpool_limits:
    """A context in which BLAS and OpenMP pools (this thread's) run one thread."""
    return threadpool_limits(limits=1)


def workers(n_jobs: int, *, tasks: int | None = None) -> int:
    """How many processes (this one included) `n_jobs` means: -1 every core, -2 all but one, 1 only this one.

    Never more than the cores, nor than the tasks when their number is known.
    """
    cores = os.cpu_count() or 1
    wanted = cores + 1 + n_jobs if n_jobs < 0 else n_jobs
    return max(1, min(wanted, cores, tasks if tasks is not None else cores))


def _timed(index: int, task: Callable[[], T]) -> tuple[int, T, float]:
    """Run one task with one thread per pool; its CPU seconds come back with it."""
    started = time.process_time()
    with one_thread():
        result = task()
    return index, result, time.process_time() - started


def _executor(processes: int) -> Any:
    """The pool of `processes` worker processes (started on first use, reused while the arguments stay the same)."""
    from joblib.externals.loky import get_reusable_executor

    _pool[0] = get_reusable_executor(max_workers=processes, timeout=IDLE_SECONDS, env=ONE_THREAD_ENV)
    return _pool[0]


def _ready() -> int:
    """Import what fitting needs, so a warmed-up worker starts its first real task at once."""
    # scikit-learn's estimators, pandas and metrics: the heavy part of every fit's imports. (Not the
    # modules that call this one, which would make an import cycle; a task's own module is small.)
    import sklearn.metrics  # noqa: F401

    import models.candidates  # noqa: F401

    return os.getpid()


def warm_up(n_jobs: int) -> None:
    """Start the worker processes now, without waiting, so they start up while this process loads data."""
    helpers = workers(n_jobs) - 1
    if helpers:
        executor = _executor(helpers)
        for _ in range(helpers):
            executor.submit(_ready)


def release() -> None:
    """Stop the worker processes now (a command that is done with them need not wait for their idle timeout)."""
    executor, _pool[0] = _pool[0], None
    if executor is not None:
        executor.shutdown(wait=True)


def run_each(tasks: Iterable[Callable[[], T]], *, n_jobs: int = 1) -> Iterator[tuple[int, T]]:
    """(position, result) of each task as it finishes, in any order.

    With `n_jobs` processes, this one fits too (the first task, and more
    whenever the workers have enough queued) and `n_jobs - 1` workers share
    the rest: that many processes busy, so each core is used once.
    `tasks` may be a lazy iterable: it is read only as tasks are started (a few
    queued ahead per worker, so workers never wait while this process fits),
    so a generator can stop yielding (a time budget) and what it never yielded
    never runs. A task's exception is raised here; tasks not yet started are cancelled.
    """
    count = len(tasks) if isinstance(tasks, list | tuple) else None
    helpers = workers(n_jobs, tasks=count) - 1
    queue = iter(enumerate(tasks))
    if not helpers:
        for index, task in queue:
            done, result, _ = _timed(index, task)
            yield done, result
        return
    executor = _executor(helpers)
    pending: set[Future[tuple[int, T, float]]] = set()
    ahead = QUEUED_PER_WORKER * helpers

    def fill() -> bool:
        """Queue tasks for the workers up to `ahead`; False once there are no more tasks."""
        while len(pending) < ahead:
            step = next(queue, None)
            if step is None:
                return False
            pending.add(executor.submit(_timed, *step))
        return True

    try:
        first = next(queue, None)  # taken here: often the largest fit, whose rows then need no copying
        more = fill()
        if first is not None:
            index, result, _ = _timed(*first)
            yield index, result
        while pending or more:
            finished = {future for future in pending if future.done()}
            if finished:
                pending.difference_update(finished)
                more = more and fill()
                for future in finished:
                    index, result, cpu = future.result()
                    _worker_cpu[0] += cpu
                    yield index, result
            elif more:
                step = next(queue, None)  # this process takes the next task itself
                if step is None:
                    more = False
                    continue
                index, result, _ = _timed(*step)
                yield index, result
            else:
                wait(pending, return_when=FIRST_COMPLETED)
    finally:
        for future in pending:
            future.cancel()


@dataclass
class Meter:
    """Wall and CPU seconds since it was made, counting CPU spent in worker processes too."""

    wall: float = field(default_factory=time.perf_counter)
    cpu: float = field(default_factory=time.process_time)
    workers: float = field(default_factory=lambda: _worker_cpu[0])

    def seconds(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu + _worker_cpu[0] - self.workers
        return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "cpu_per_wall": round(cpu / wall, 2) if wall else 0.0}
