"""Warnings about a training table that make cross-validated scores look better than they are.

Checked before any model is fitted, printed by the CLI and kept in the card
and the benchmark JSON: exact duplicate rows (a copy in the test fold is a row
the model trained on), a column value that almost only leavers have (often
recorded because they left: a leak), and too few leavers for steady numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

DUPLICATE_SHARE = 0.01
"""Warn when more than this share of rows repeat an earlier row exactly (label included)."""
LEAK_SHARE = 0.95
LEAK_MIN_ROWS = 50
"""Warn when one value of a column, held by at least LEAK_MIN_ROWS rows, has a leaver share above LEAK_SHARE."""
MIN_LABEL_SHARE = 0.03
"""Warn when leavers (or stayers) are under this share of the rows."""
MISSING_VALUE = "(missing)"


@dataclass(frozen=True)
class DataWarning:
    """One thing about the table a person should check, with the numbers behind it."""

    kind: str  # "duplicates", "leak" or "label_share"
    message: str
    rows: int
    column: str | None = None

    def as_dict(self) -> dict[str, str | int | None]:
        return asdict(self)


def duplicate_rows(X: pd.DataFrame, y: np.ndarray) -> int:
    """Rows that repeat an earlier row exactly, features and label alike."""
    frame = X.assign(**{"\0label": np.asarray(y)})
    return int(frame.duplicated().sum())


def _duplicates(X: pd.DataFrame, y: np.ndarray, *, grouped: bool) -> list[DataWarning]:
    count = duplicate_rows(X, y)
    if count <= DUPLICATE_SHARE * len(y):
        return []
    advice = (
        "folds keep each group together, but a copy of one record still counts twice: remove the copies if they"
        " are the same record"
        if grouped
        else "a fold that holds one copy tests the model on a row it trained on; remove the copies if they are the"
        " same record, or keep each person's rows in one fold (--group)"
    )
    return [
        DataWarning(
            "duplicates",
            f"{count:,} of {len(y):,} rows ({count / len(y):.1%}) repeat an earlier row exactly, label included: {advice}",
            count,
        )
    ]


def _value_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING_VALUE
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _leaks(X: pd.DataFrame, y: np.ndarray) -> list[DataWarning]:
    """At most one warning per column: its value with the highest leaver share among those that qualify."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0 or y.mean() > LEAK_SHARE:  # every value would qualify: the label-share warning says it instead
        return []
    found = []
    for column in X.columns:
        values = X[column]
        stats = pd.DataFrame({"value": values.to_numpy(dtype=object), "y": y}).groupby(
            "value", dropna=False, sort=False
        )["y"].agg(["size", "mean"])
        suspects = stats[(stats["size"] >= LEAK_MIN_ROWS) & (stats["mean"] > LEAK_SHARE)]
        if suspects.empty:
            continue
        value = suspects["mean"].idxmax()
        n, share = int(suspects.loc[value, "size"]), float(suspects.loc[value, "mean"])
        found.append(
            DataWarning(
                "leak",
                f"{column} = {_value_text(value)}: {round(n * share):,} of {n:,} rows ({share:.1%}) are leavers, a"
                f" likely leak: check whether the value is recorded because people left, and leave {column} out"
                " if it is",
                n,
                str(column),
            )
        )
    return found


def _label_share(y: np.ndarray) -> list[DataWarning]:
    positives, n = int(np.sum(y)), len(y)
    share = positives / n if n else 0.0
    if share < MIN_LABEL_SHARE:
        return [
            DataWarning(
                "label_share",
                f"only {share:.1%} of rows are leavers ({positives:,} of {n:,}): ROC-AUC and lift swing widely"
                " between folds at this rate; more history or a longer horizon gives steadier numbers",
                positives,
            )
        ]
    if share > 1 - MIN_LABEL_SHARE:
        return [
            DataWarning(
                "label_share",
                f"{share:.1%} of rows are leavers ({positives:,} of {n:,}): check that the positive value is"
                " the one that means leaving",
                positives,
            )
        ]
    return []


def data_warnings(X: pd.DataFrame, y: np.ndarray, *, grouped: bool = False) -> list[DataWarning]:
    """Everything worth a warning about this table of features and 0/1 labels, most general first.

    `grouped`: the folds already keep each person's (or group's) rows together.
    """
    return [*_label_share(y), *_duplicates(X, y, grouped=grouped), *_leaks(X, y)]
