"""Choose among the candidates by validation ROC-AUC, simplest first, across the cores and within a time budget.

Every (candidate, split) fit is an independent task: `models.cores.run_each`
runs them side by side with one thread per fit. Candidates are started
simplest first; once the time budget has run out no further candidate is
started, and the choice says which were never tried.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from core.errors import ModelError
from models.candidates import ALL_CANDIDATES, build, candidate_names
from models.columns import plan_columns
from models.cores import run_each
from models.progress import Counter

Split = tuple[np.ndarray, np.ndarray]

TIE_TOLERANCE = 0.001
MIN_CLASS_ROWS = 3
SELECTION_MAX_ROWS = 150_000
"""`choose` fits candidates on at most this many rows of a split's training part.

Above it, a stratified random subsample of exactly this many rows (seeded by
`random_state`, kept in table order) stands in for the training part; the
validation part is always scored in full. Ranking the candidates needs far
fewer rows than fitting the final model, and LogisticRegressionCV on a million
rows takes minutes. Tables up to this size are untouched.
"""


@dataclass(frozen=True)
class Choice:
    """Which candidate won, every tried candidate's mean validation ROC-AUC, and what the time budget left out."""

    selected: str
    scores: dict[str, float]
    not_tried: tuple[str, ...] = ()
    budget_seconds: float | None = None

    def budget_note(self) -> str:
        """One sentence for a card or a report; empty when every candidate was tried."""
        if not self.not_tried:
            return ""
        return (
            f"the time budget of {self.budget_seconds:g} s ran out after {len(self.scores)} of"
            f" {len(self.scores) + len(self.not_tried)} candidates; not tried: {', '.join(self.not_tried)}"
        )


def pick(scores: Mapping[str, float], *, tolerance: float = TIE_TOLERANCE) -> str:
    """The best-scoring name, or the simplest one within `tolerance` of it."""
    best = max(scores.values())
    ranked = sorted(scores, key=lambda n: ALL_CANDIDATES.index(n) if n in ALL_CANDIDATES else len(ALL_CANDIDATES))
    return next(name for name in ranked if scores[name] >= best - tolerance)


def check_labels(y: np.ndarray, *, where: str, at_least: int) -> None:
    """Both classes present, `at_least` rows each: the estimators' own 3-fold CV needs 3 of each."""
    positives = int(np.sum(y))
    if min(positives, len(y) - positives) < at_least:
        raise ModelError(
            f"{where} has {positives} leavers and {len(y) - positives} stayers; need at least {at_least} of each"
            " (use fewer folds or more rows)"
        )


def stratified_subsample(y: np.ndarray, max_rows: int, *, random_state: int = 0) -> np.ndarray:
    """Positions of at most `max_rows` rows of `y`, each class in its share of the whole, in table order.

    Every row when there are no more than `max_rows`; otherwise exactly
    `max_rows`, drawn without replacement by a generator seeded with
    `random_state`, so the same labels and seed always give the same rows.
    """
    y = np.asarray(y)
    if len(y) <= max_rows:
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (max_rows / len(y))
    take = np.floor(quota).astype(np.int64)
    # Largest remainders get the rows still missing, so the sample has exactly max_rows.
    take[np.argsort(take - quota, kind="stable")[: max_rows - int(take.sum())]] += 1
    rng = np.random.default_rng(random_state)
    picked = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked))


def validation_auc(
    name: str,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    *,
    exclude: Sequence[str],
    monotonic: Mapping[str, int] | None,
    random_state: int,
) -> float:
    """Plan the columns on the training part, fit candidate `name` there, score the validation part."""
    plan = plan_columns(X_train, exclude=exclude)
    features = plan.features()
    model = build(name, plan, rows=len(y_train), random_state=random_state, monotonic=monotonic)
    model.fit(X_train[features], y_train)
    return float(roc_auc_score(y_val, model.predict_proba(X_val[features])[:, 1]))


def _prepare(y: np.ndarray, splits: Iterable[Split], *, random_state: int, offset: int = 0) -> list[Split]:
    """Each split checked, with a training part above `SELECTION_MAX_ROWS` replaced by its stratified subsample."""
    prepared = []
    for number, (train_idx, val_idx) in enumerate(splits, start=offset + 1):
        train_idx, val_idx = np.asarray(train_idx), np.asarray(val_idx)
        if len(train_idx) > SELECTION_MAX_ROWS:
            train_idx = train_idx[stratified_subsample(y[train_idx], SELECTION_MAX_ROWS, random_state=random_state)]
        check_labels(y[train_idx], where=f"training part of split {number}", at_least=MIN_CLASS_ROWS)
        check_labels(y[val_idx], where=f"validation part of split {number}", at_least=1)
        prepared.append((train_idx, val_idx))
    return prepared


def choose(
    X: pd.DataFrame,
    y: np.ndarray,
    splits: Iterable[Split],
    *,
    exclude: Iterable[str] = (),
    monotonic: Mapping[str, int] | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    budget_seconds: float | None = None,
    counter: Counter | None = None,
    fold_word: str = "split",
) -> Choice:
    """Pick the candidate with the best mean validation ROC-AUC, preferring the simpler on a near-tie.

    A training part above `SELECTION_MAX_ROWS` rows is replaced by a stratified
    subsample of that many rows (`stratified_subsample`, seeded by
    `random_state`): column plan and candidates are built and fitted on it, as
    if the training part were that subsample. Validation parts are scored in full.
    """
    return choose_each(
        X,
        y,
        [list(splits)],
        exclude=exclude,
        monotonic=monotonic,
        random_state=random_state,
        n_jobs=n_jobs,
        budget_seconds=budget_seconds,
        counter=counter,
        fold_word=fold_word,
    )[0]


def choose_each(
    X: pd.DataFrame,
    y: np.ndarray,
    problems: Sequence[Sequence[Split]],
    *,
    exclude: Iterable[str] = (),
    monotonic: Mapping[str, int] | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    budget_seconds: float | None = None,
    counter: Counter | None = None,
    fold_word: str = "fold",
) -> list[Choice]:
    """One `Choice` per problem (its own list of splits, e.g. each outer fold of a benchmark), made together.

    Each candidate is fitted on every split of every problem before the next
    (simpler first) starts, so the cores stay busy and a time budget cuts every
    problem at the same candidate. The first candidate always runs.
    Progress counts one piece per candidate and problem (or per candidate and
    split when there is one problem), as "candidate i of n, fold k of K".
    """
    y = np.asarray(y)
    excluded = list(exclude)
    offsets = np.cumsum([0, *(len(p) for p in problems)])
    prepared = [_prepare(y, p, random_state=random_state, offset=int(o)) for p, o in zip(problems, offsets, strict=False)]
    if not prepared or not all(prepared):
        raise ModelError("no validation split given; pass at least one (train, validation) pair")
    names = candidate_names(max(len(train) for splits in prepared for train, _ in splits))
    per_problem = len(prepared) > 1

    def unit(c: int, p: int, s: int) -> tuple[int, int]:
        return (c, p) if per_problem else (c, s)

    remaining = Tally(unit(c, p, s) for c in range(len(names)) for p, sp in enumerate(prepared) for s in range(len(sp)))
    counter = counter or Counter(None, 0)
    counter.grow(len(remaining))
    keys: list[tuple[int, int, int]] = []
    started = time.monotonic()
    stopped = [len(names)]

    def tasks() -> Iterator[partial[float]]:
        for c, name in enumerate(names):
            if c and budget_seconds is not None and time.monotonic() - started > budget_seconds:
                stopped[0] = c
                return
            for p, splits in enumerate(prepared):
                for s, (train_idx, val_idx) in enumerate(splits):
                    keys.append((c, p, s))
                    yield partial(
                        validation_auc,
                        name,
                        X.iloc[train_idx],
                        y[train_idx],
                        X.iloc[val_idx],
                        y[val_idx],
                        exclude=excluded,
                        monotonic=monotonic,
                        random_state=random_state,
                    )

    scores: dict[tuple[int, int], dict[int, float]] = {}
    for index, auc in run_each(tasks(), n_jobs=n_jobs):
        c, p, s = keys[index]
        scores.setdefault((c, p), {})[s] = auc
        remaining[unit(c, p, s)] -= 1
        if remaining[unit(c, p, s)] == 0:
            k, total = (p + 1, len(prepared)) if per_problem else (s + 1, len(prepared[0]))
            counter.advance(
                f"candidate {c + 1} of {len(names)} ({names[c]}), {fold_word} {k} of {total}",
                candidate=c + 1,
                candidates=len(names),
                fold=k,
                folds=total,
            )
    tried, not_tried = names[: stopped[0]], tuple(names[stopped[0] :])
    if not_tried:
        counter.skip(
            sum(1 for (c, _) in remaining if c >= stopped[0]),
            f"time budget of {budget_seconds:g} s reached: {len(not_tried)} of {len(names)} candidates not tried",
        )
    choices = []
    for p, splits in enumerate(prepared):
        means = {name: float(np.mean([scores[(c, p)][s] for s in range(len(splits))])) for c, name in enumerate(tried)}
        choices.append(Choice(pick(means), means, not_tried, budget_seconds if not_tried else None))
    return choices
