"""The drop folder's CSV files: build, corrupt and write one source at a time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from core.contract import (
    AUTONOMY_SURVEY,
    EMPLOYEES,
    LEARNING,
    ONE_ON_ONES,
    PERFORMANCE,
    PROMOTIONS,
    RECOGNITION,
)
from pipelines.synth import Progress
from pipelines.synth.bad_rows import inject_bad_rows
from pipelines.synth.columns import Ids
from pipelines.synth.employees import employees_table
from pipelines.synth.event_tables import event_table
from pipelines.synth.simulation import Simulation

_SOURCES = (EMPLOYEES, PERFORMANCE, RECOGNITION, ONE_ON_ONES, AUTONOMY_SURVEY, LEARNING, PROMOTIONS)


@dataclass(frozen=True)
class Written:
    """What reached the drop folder, for the truth and the caller's summary."""

    files: dict[str, Path]  # source name -> file written
    rows: dict[str, int]  # source name -> data rows written (incl. bad rows)
    bad_counts: dict[str, dict[str, int]]  # source name -> bad-row kind -> rows
    bad_kind: np.ndarray  # per person: the kind of bad row their employees row got ("" if none)


def write_sources(
    con: duckdb.DuckDBPyConnection,
    sim: Simulation,
    ids: Ids,
    out_dir: Path,
    rng: np.random.Generator,
    bad_row_share: float,
    report: Progress,
) -> Written:
    """Write every contract file into `out_dir`, keeping one file's table in memory at a time."""
    employees, emp_bad_rows = employees_table(sim, ids, rng)
    files: dict[str, Path] = {}
    rows: dict[str, int] = {}
    bad_counts: dict[str, dict[str, int]] = {}
    for i, source in enumerate(_SOURCES):
        if source.name == EMPLOYEES.name:
            table, kinds, rows_by_kind = inject_bad_rows(
                employees, source, rng, bad_row_share, emp_bad_rows.pool, ids.width
            )
            emp_bad_rows.flag(rows_by_kind)
        else:
            table = event_table(sim, ids, source.name)
            table, kinds, _ = inject_bad_rows(table, source, rng, bad_row_share, None, ids.width)
        path = out_dir / f"{source.name}.csv"
        write_csv(con, table, path)
        files[source.name] = path
        rows[source.name] = table.num_rows
        bad_counts[source.name] = kinds
        del table
        report("write", 0.7 + 0.25 * (i + 1) / len(_SOURCES))
    return Written(files, rows, bad_counts, emp_bad_rows.kind)


def write_csv(con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path) -> None:
    """UTF-8 CSV with a header, quoting only where needed, nulls as empty fields."""
    con.register("_out", table)
    try:
        target = str(path).replace("'", "''")
        con.execute(f"COPY _out TO '{target}' (FORMAT CSV, HEADER, DELIMITER ',')")
    finally:
        con.unregister("_out")
