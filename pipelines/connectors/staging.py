"""Helpers the file connectors share: text tables with line numbers, safe headers, the `_stage` view."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from core.db import fetch_value
from pipelines.connectors.base import STAGE

# `_stage_raw` holds what was read; `_stage` is the view the checks read (with `_line`).
CREATE_STAGE_VIEW = f"create temp view {STAGE} as select * from _stage_raw"


def stage_view(conn: duckdb.DuckDBPyConnection) -> None:
    """Expose `_stage_raw` (which already has `_line`) as `_stage`."""
    conn.execute(CREATE_STAGE_VIEW)


def stage_table(conn: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    """Copy an Arrow table read in Python into `_stage_raw`, and expose it as `_stage`."""
    conn.register("_stage_view", table)
    try:
        conn.execute("drop table if exists _stage_raw")
        conn.execute("create temp table _stage_raw as select * from _stage_view")
    finally:
        conn.unregister("_stage_view")
    stage_view(conn)


def text_table(headers: list[str], columns: list[list[str | None]], lines: list[int]) -> pa.Table:
    headers = unique_headers(headers)
    arrays = [pa.array(col, type=pa.string()) for col in columns]
    return pa.table(arrays + [pa.array(lines, type=pa.int64())], names=[*headers, "_line"])


def unique_headers(headers: list[str]) -> list[str]:
    """Column names Arrow and DuckDB accept: valid UTF-8, distinct, never our `_line`."""
    out: list[str] = []
    for i, header in enumerate(headers):
        name = header.encode("utf-8", errors="replace").decode("utf-8")
        if name in out or name == "_line":
            name = f"{name}_{i}"
        out.append(name)
    return out


def count_rows(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(fetch_value(conn, f"select count(*) from {table}") or 0)


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200]
