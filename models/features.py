"""Point-in-time features for one as-of moment, computed in DuckDB from `features.sql`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

FEATURES_SQL = (Path(__file__).parent / "features.sql").read_text(encoding="utf-8")


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


def compute_features(conn: duckdb.DuckDBPyConnection, as_of: datetime) -> Features:
    """Everyone on the roster at `as_of`, from events strictly before it."""
    _set_snapshots(conn, [as_of])
    result = conn.execute(FEATURES_SQL).fetchnumpy()
    columns = {name: _plain(values) for name, values in result.items()}
    return Features(as_of=as_of, columns=columns)


def snapshot_frame(conn: duckdb.DuckDBPyConnection, snapshots: Sequence[datetime]) -> pd.DataFrame:
    """Features for many snapshots at once (one row per employee and snapshot), for training."""
    _set_snapshots(conn, snapshots)
    return conn.execute(FEATURES_SQL).df()


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
