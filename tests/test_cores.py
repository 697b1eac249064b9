"""Cores used once: one BLAS/OpenMP thread inside each fit, fits side by side, progress, and the time budget."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_info, threadpool_limits

from core.errors import ModelError
from models.candidates import candidate_names
from models.cores import Meter, run_each, workers
from models.progress import Counter, Step
from models.selection import choose, choose_each

two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores for a worker process")


def small_table(n: int = 240, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"pay": rng.lognormal(8, 0.5, n), "rating": rng.integers(1, 6, n).astype(float)})
    X["team"] = rng.choice(["a", "b", "c"], n)
    logit = -(X["rating"].to_numpy() - 3) - 1.0
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def pools() -> list[tuple[str, int]]:
    """(API, threads) of every BLAS and OpenMP pool loaded in this process, OpenMP loaded for sure."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: F401  (its extension loads OpenMP)

    return [(info["internal_api"], info["num_threads"]) for info in threadpool_info()]


def test_every_fit_runs_with_one_blas_and_openmp_thread_even_where_the_caller_allows_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[list[tuple[str, int]]] = []
    fit = Pipeline.fit

    def recording(self: Pipeline, X: Any, y: Any = None, **params: Any) -> Pipeline:
        if self.steps[-1][0] == "model":
            seen.append(pools())
        return fit(self, X, y, **params)

    monkeypatch.setattr(Pipeline, "fit", recording)
    X, y = small_table()
    with threadpool_limits(limits=2):
        assert ("openmp", 2) in pools()
        choose(X, y, StratifiedKFold(2).split(X, y))
    assert len(seen) == 2 * len(candidate_names(120))
    assert {threads for found in seen for _, threads in found} == {1}
    assert {api for api, _ in seen[0]} >= {"openmp"}


@two_cores
def test_worker_processes_share_the_tasks_and_run_them_with_one_thread_per_pool() -> None:
    def probe() -> tuple[int, list[tuple[str, int]]]:
        return os.getpid(), pools()

    results = dict(run_each([probe] * 6, n_jobs=2))
    assert sorted(results) == list(range(6))
    assert {pid for pid, _ in results.values()} - {os.getpid()}, "no task ran in a worker process"
    assert {threads for _, found in results.values() for _, threads in found} == {1}


def test_n_jobs_means_every_core_all_but_one_or_this_process_alone() -> None:
    cores = os.cpu_count() or 1
    assert (workers(-1), workers(1), workers(-2)) == (cores, 1, max(1, cores - 1))
    assert workers(64) == cores and workers(-1, tasks=1) == 1


@two_cores
def test_tasks_a_generator_never_yields_never_run() -> None:
    started: list[int] = []

    def tasks() -> Iterator[Any]:
        for i in range(100):
            started.append(i)
            yield lambda i=i: i
            if i == 4:
                return

    assert sorted(i for i, _ in run_each(tasks(), n_jobs=2)) == [0, 1, 2, 3, 4]
    assert started == [0, 1, 2, 3, 4]


@two_cores
def test_an_error_in_a_worker_reaches_the_caller_as_itself() -> None:
    def fails() -> None:
        raise ModelError("no usable feature columns")

    with pytest.raises(ModelError, match="no usable feature columns"):
        list(run_each([fails] * 4, n_jobs=2))


def test_the_meter_counts_wall_and_cpu_seconds() -> None:
    meter = Meter()
    sum(i * i for i in range(300_000))
    seconds = meter.seconds()
    assert seconds["seconds"] >= 0 and seconds["cpu_seconds"] > 0 and seconds["cpu_per_wall"] >= 0


def test_selection_reports_candidate_i_of_n_for_each_fold_k_of_n() -> None:
    X, y = small_table()
    folds = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, y))
    problems = [[(tr[a], tr[b]) for a, b in StratifiedKFold(2).split(X.iloc[tr], y[tr])] for tr, _ in folds]
    steps: list[Step] = []
    choose_each(X, y, problems, counter=Counter(steps.append, 0))
    n = len(candidate_names(60))
    assert [(s.candidate, s.candidates, s.fold, s.folds) for s in steps] == [
        (i, n, k, 2) for i in range(1, n + 1) for k in (1, 2)
    ]
    assert steps[-1].text.startswith(f"candidate {n} of {n} (") and steps[-1].text.endswith("fold 2 of 2")
    assert [s.done for s in steps] == list(range(1, 2 * n + 1)) and {s.total for s in steps} == {2 * n}


def test_training_windows_count_as_the_folds_when_there_is_one_problem() -> None:
    X, y = small_table()
    steps: list[Step] = []
    choose(X, y, StratifiedKFold(3).split(X, y), counter=Counter(steps.append, 0), fold_word="validation window")
    assert steps[0].text == "candidate 1 of 5 (logistic), validation window 1 of 3"
    assert {(s.fold, s.folds) for s in steps} == {(1, 3), (2, 3), (3, 3)}


def test_the_time_budget_stops_selection_after_the_simplest_candidate_and_says_so() -> None:
    X, y = small_table()
    steps: list[Step] = []
    choice = choose(X, y, StratifiedKFold(2).split(X, y), budget_seconds=0.0, counter=Counter(steps.append, 0))
    assert (choice.selected, list(choice.scores)) == ("logistic", ["logistic"])
    assert choice.not_tried == candidate_names(120)[1:]
    assert "time budget of 0 s ran out after 1 of 5 candidates; not tried: logistic_rich" in choice.budget_note()
    assert steps[-1].text == "time budget of 0 s reached: 4 of 5 candidates not tried"
    assert steps[-1].done == steps[-1].total == 2  # the bar ends full: the untried pieces are no longer counted


def test_without_a_budget_every_candidate_is_tried() -> None:
    X, y = small_table()
    choice = choose(X, y, StratifiedKFold(2).split(X, y), budget_seconds=None)
    assert list(choice.scores) == list(candidate_names(120)) and choice.not_tried == () and choice.budget_note() == ""


@two_cores
def test_selection_in_worker_processes_scores_as_it_does_here() -> None:
    X, y = small_table()
    splits = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    assert choose(X, y, splits, n_jobs=2) == choose(X, y, splits, n_jobs=1)
