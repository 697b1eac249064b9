"""Benchmark the candidate models on any flat table with a yes/no label, by nested cross-validation.

Backs `retention model benchmark FILE --label COL --positive VALUE`: the outer
folds only ever score; choosing a candidate and every encoding decision happen
inside each outer training part, so the reported numbers are what a model
chosen this way would score on people it has not seen.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from models.metrics import evaluate
from models.tabular import (
    CANDIDATE_ORDER,
    candidates,
    choose,
    fit_calibrated,
    plan_columns,
    protected_columns,
)
from pipelines.errors import ModelError

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
"""Cell texts (after trimming, any case) that mean "no value"."""

PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
INNER_FOLDS = 3
REPORTED = ("roc_auc", "pr_auc", "brier", "lift_top_decile")


def _read_raw(path: Path) -> pd.DataFrame:
    """The file as read by DuckDB: CSV as text (so "Yes"/"No" stay text), Parquet with its own types."""
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    query = "select * from read_parquet(?)" if parquet else "select * from read_csv(?, all_varchar = true, header = true)"
    try:
        with duckdb.connect() as con:
            return con.execute(query, [str(path)]).df()
    except duckdb.Error as exc:
        # DuckDB's message can quote a line of the file (people's data), so name the file and the fix only.
        kind = "Parquet" if parquet else "CSV (UTF-8, with a header row)"
        raise ModelError(f"{path}: cannot read it as {kind} ({type(exc).__name__})") from exc


def _cell_text(value: object) -> str | float:
    """Trimmed text, or NaN for an empty cell or an NA/null/none spelling."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return np.nan
    text = str(value).strip()
    return np.nan if text.casefold() in MISSING_TOKENS else text


def _text_to_missing(values: pd.Series) -> pd.Series:
    """The column as trimmed text (object dtype) with missing cells as NaN."""
    return pd.Series([_cell_text(v) for v in values], index=values.index, dtype=object)


def _as_numbers(values: pd.Series) -> pd.Series | None:
    """The column as floats if every present value is a finite number, else None."""
    numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
    present = values.notna()
    if present.any() and numbers[present].notna().all() and np.isfinite(numbers[present]).all():
        return numbers
    return None


def _typed_column(values: pd.Series) -> pd.Series:
    """Numbers (and booleans) as float, everything else as trimmed text with missing as NaN."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype(np.float64)
    text = _text_to_missing(values)
    numbers = _as_numbers(text)
    return numbers if numbers is not None else text


def _label_vector(raw: pd.Series, *, label: str, positive: str) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, 0/1 labels for kept rows): rows equal to `positive` (trimmed, any case) are 1."""
    text = _text_to_missing(raw)
    keep = text.notna().to_numpy()
    wanted = positive.strip().casefold()
    y = np.array([str(v).casefold() == wanted for v in text[keep]], dtype=np.int64)
    if y.sum() == 0 or y.sum() == len(y):
        seen = sorted({str(v) for v in text[keep]})[:10]
        raise ModelError(
            f"label column {label!r} needs both classes: {int(y.sum())} of {len(y)} labelled rows equal {positive!r}"
            f" (values seen: {', '.join(seen) or 'none'}); check --positive"
        )
    return keep, y


def load_table(path: Path, *, label: str, positive: str, drop: Iterable[str] = ()) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and 0/1 labels from a CSV or Parquet file; rows without a label are left out.

    CSV is read as text and a column becomes numeric only when every present
    value parses as a number, so DuckDB's type sniffing cannot turn "Yes"/"No"
    into booleans or a mostly-numeric column into something else.
    """
    path = Path(path)
    raw = _read_raw(path)
    columns = [str(c) for c in raw.columns]
    if label not in columns:
        raise ModelError(f"{path}: no label column {label!r}; columns are: {', '.join(columns)}")
    to_drop = [c.strip() for c in drop if c.strip()]  # tolerate "A, B" from a comma-separated option
    unknown = [c for c in to_drop if c not in columns]
    if unknown:
        raise ModelError(f"{path}: cannot drop {', '.join(map(repr, unknown))}: no such column; columns are: {', '.join(columns)}")
    keep, y = _label_vector(raw[label], label=label, positive=positive)
    kept = raw.loc[keep, [c for c in columns if c != label and c not in to_drop]].reset_index(drop=True)
    X = pd.DataFrame({name: _typed_column(kept[name]) for name in kept.columns})
    return X, y


def _mean_metrics(rows: list[dict[str, float | int]]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in REPORTED}


@dataclass(frozen=True)
class FoldResult:
    """What one outer fold chose and how each model scored on its test part."""

    selected: str
    inner_scores: dict[str, float]
    candidates: dict[str, dict[str, float | int]]
    calibrated: dict[str, float | int]
    dropped: dict[str, str]


def _outer_fold(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    exclude: list[str],
    random_state: int,
) -> FoldResult:
    """Choose inside the training part, then score every candidate and the calibrated choice on the test part."""
    inner = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=random_state).split(X_train, y_train)
    choice = choose(X_train, y_train, inner, exclude=exclude, random_state=random_state)
    plan = plan_columns(X_train, exclude=exclude)
    features = plan.features()
    per_candidate: dict[str, dict[str, float | int]] = {}
    for name, pipeline in candidates(plan, random_state=random_state).items():
        pipeline.fit(X_train[features], y_train)
        per_candidate[name] = evaluate(y_test, pipeline.predict_proba(X_test[features])[:, 1])
    model = fit_calibrated(choice.selected, X_train, y_train, exclude=exclude, random_state=random_state)
    selected = evaluate(y_test, model.predict_proba(X_test[model.feature_names_in_])[:, 1])
    return FoldResult(choice.selected, choice.scores, per_candidate, selected, plan.dropped)


def most_often(selections: list[str]) -> str:
    """The name chosen in most folds; on a tie the simpler candidate."""
    counts = Counter(selections)
    return min(counts, key=lambda name: (-counts[name], CANDIDATE_ORDER.index(name)))


def run_benchmark(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    folds: int = 5,
    allow_protected: bool = False,
    random_state: int = 0,
) -> dict[str, Any]:
    """Nested cross-validation of the whole recipe (exclude, encode, choose, calibrate); a JSON-able report."""
    started = time.perf_counter()
    y = np.asarray(y, dtype=np.int64)
    positives = int(y.sum())
    smallest = min(positives, len(y) - positives)
    if folds < 2:
        raise ModelError(f"--folds must be at least 2; got {folds}")
    if smallest < folds * INNER_FOLDS:
        raise ModelError(
            f"only {smallest} rows in the smaller class; {folds} outer x {INNER_FOLDS} inner folds need at least"
            f" {folds * INNER_FOLDS} (use fewer --folds)"
        )
    excluded = [] if allow_protected else protected_columns(X.columns)
    outer = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    results = [
        _outer_fold(X.iloc[tr], y[tr], X.iloc[te], y[te], exclude=excluded, random_state=random_state)
        for tr, te in outer.split(X, y)
    ]
    selections = [r.selected for r in results]
    dropped: dict[str, str] = {}
    for r in results:
        for column, reason in r.dropped.items():
            dropped.setdefault(column, reason)
    return {
        "selected": most_often(selections),
        **_mean_metrics([r.calibrated for r in results]),
        "fold_roc_auc": [float(r.calibrated["roc_auc"]) for r in results],
        "candidates": {name: _mean_metrics([r.candidates[name] for r in results]) for name in CANDIDATE_ORDER},
        "selections": selections,
        "inner_scores": [r.inner_scores for r in results],
        "folds": folds,
        "rows": len(y),
        "positives": positives,
        "protected_excluded": excluded,
        "dropped": {c: dropped[c] for c in X.columns if c in dropped},
        "seconds": round(time.perf_counter() - started, 2),
    }
