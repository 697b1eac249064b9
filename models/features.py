"""Point-in-time features for one as-of moment, computed in DuckDB from `features.sql`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

FEATURES_SQL = (Path(__file__).parent / "features.sql").read_text(encoding="utf-8")
TEAMS_SQL = (Path(__file__).parent / "features_teams.sql").read_text(encoding="utf-8")
T = TypeVar("T")
# People per chunk of the features query: DuckDB's memory for it grows with the chunk, not the roster.
CHUNK_PEOPLE = 100_000


@dataclass(frozen=True)
class Features:
    """Column arrays, one row per employee on the roster at `as_of` (sorted by id)."""

    as_of: datetime
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["employee_id"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def frame(self) -> pd.DataFrame:
        """The columns as a DataFrame, missing numbers as NaN (what the model expects)."""
        return pd.DataFrame(
            {
                name: self.numeric(name) if values.dtype.kind in "biuf" else values
                for name, values in self.columns.items()
            }
        )

    def numeric(self, name: str) -> np.ndarray:
        """A column as float64 with NaN for missing values."""
        col = self.columns[name]
        if isinstance(col, np.ma.MaskedArray):
            return np.asarray(np.ma.filled(col.astype(np.float64), np.nan))
        return np.asarray(col, dtype=np.float64)


def compute_features(
    conn: duckdb.DuckDBPyConnection, as_of: datetime, *, chunk_people: int | None = None
) -> Features:
    """Everyone on the roster at `as_of`, from events strictly before it."""
    _set_snapshots(conn, [as_of])
    parts = [
        conn.execute(FEATURES_SQL, {"lo": lo, "hi": hi}).fetchnumpy()
        for lo, hi in chunks(conn, chunk_people or CHUNK_PEOPLE)
    ]
    person = {name: _concatenate([p[name] for p in parts]) for name in parts[0]}
    teams = _teams(conn, person, lambda result: result.fetchnumpy())
    columns = {name: _plain(values) for name, values in {**person, **teams}.items()}
    return Features(as_of=as_of, columns=columns)


def snapshot_frame(
    conn: duckdb.DuckDBPyConnection, snapshots: Sequence[datetime], *, chunk_people: int | None = None
) -> pd.DataFrame:
    """Features for many snapshots at once (one row per employee and snapshot), for training."""
    _set_snapshots(conn, snapshots)
    parts = [
        conn.execute(FEATURES_SQL, {"lo": lo, "hi": hi}).df()
        for lo, hi in chunks(conn, chunk_people or CHUNK_PEOPLE)
    ]
    person = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if len(parts) > 1:  # each chunk is sorted; together they must be too
        person = person.sort_values(["as_of", "employee_id"], kind="stable", ignore_index=True)
    teams = _teams(conn, {name: person[name].to_numpy() for name in _TEAM_INPUTS}, lambda result: result.df())
    return pd.concat([person, teams], axis=1)


def chunks(conn: duckdb.DuckDBPyConnection, size: int) -> list[tuple[str, str | None]]:
    """[lo, hi) ranges of employee ids of about `size` people each; one open range for a small roster."""
    starts = [
        r[0]
        for r in conn.execute(
            "select employee_id from (select employee_id, row_number() over (order by employee_id) - 1 as n"
            " from employees) where n % ? = 0 and n > 0 order by 1",
            [size],
        ).fetchall()
    ]
    bounds = ["", *starts]
    return [(lo, bounds[i + 1] if i + 1 < len(bounds) else None) for i, lo in enumerate(bounds)]


_TEAM_INPUTS = ("employee_id", "as_of", "manager_id", "recognition_90d", "one_on_ones_held_90d")


def _teams(conn: duckdb.DuckDBPyConnection, person: dict[str, np.ndarray], fetch: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Team columns for every person row, in row order (a manager's reports may span chunks)."""
    n = len(person["employee_id"])
    table = pa.table(
        {"_i": pa.array(np.arange(n, dtype=np.int64))}
        | {name: _arrow(person[name]) for name in _TEAM_INPUTS}
    )
    conn.register("_person", table)
    try:
        return fetch(conn.execute(TEAMS_SQL))
    finally:
        conn.unregister("_person")


def _arrow(values: np.ndarray) -> pa.Array:
    if isinstance(values, np.ma.MaskedArray):
        return pa.array(values.data, mask=np.ma.getmaskarray(values))
    return pa.array(values, from_pandas=True)


def _concatenate(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    if any(isinstance(p, np.ma.MaskedArray) for p in parts):
        return np.ma.concatenate(parts)
    return np.concatenate(parts)


def _set_snapshots(conn: duckdb.DuckDBPyConnection, snapshots: Sequence[datetime]) -> None:
    conn.execute("create or replace temp table _snapshots (as_of timestamp)")
    conn.executemany("insert into _snapshots values (?)", [[s] for s in snapshots])


def _plain(values: np.ndarray) -> np.ndarray:
    """Text columns as object arrays with None; numbers keep their mask for `numeric()`."""
    if values.dtype == object or values.dtype.kind in "US":
        if isinstance(values, np.ma.MaskedArray):
            return np.asarray(np.ma.filled(values.astype(object), None), dtype=object)
        return np.asarray(values, dtype=object)
    return values
