"""DuckDB helpers every room uses: transactions, one-row reads, id sets as a table, quoting, memory.

Nothing here knows the schema; `pipelines/store.py` owns the file, its migrations and its lock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

log = logging.getLogger("retention.store")

# What ingest accepts as an employee id, and what explain, forget and opt-out check against.
ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,128}$"
ID_RE = re.compile(ID_PATTERN)


def quote_ident(name: str) -> str:
    """A column or table name as a DuckDB identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: any exception rolls back and re-raises."""
    conn.execute("begin transaction")
    try:
        yield conn
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


def fetch_one(
    conn: duckdb.DuckDBPyConnection, sql: str, params: object = None
) -> tuple[Any, ...] | None:
    """The first row, with the result fully consumed.

    DuckDB refuses further work (e.g. `register`) on a connection whose last
    result was only partly fetched, so never leave one open with `fetchone()`.
    """
    rows = conn.execute(sql, params).fetchall() if params is not None else conn.execute(sql).fetchall()
    return rows[0] if rows else None


def fetch_value(conn: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> Any:
    row = fetch_one(conn, sql, params)
    return row[0] if row else None


def utcnow() -> datetime:
    """Naive UTC, which is what DuckDB's TIMESTAMP holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def with_ids(
    conn: duckdb.DuckDBPyConnection, ids: Iterable[str], sql: str, params: list[object] | None = None
) -> list[tuple[Any, ...]]:
    """Run `sql` with the ids as the table `_wanted_ids(employee_id)`: a join costs one hash probe per
    row, where list_contains(?, id) compared every row with every id."""
    wanted = pa.table({"employee_id": pa.array(sorted(set(ids)), type=pa.string())})
    if not wanted.num_rows:
        return []
    conn.register("_wanted_ids", wanted)
    try:
        return conn.execute(sql, params).fetchall() if params else conn.execute(sql).fetchall()
    finally:
        conn.unregister("_wanted_ids")


def release_memory(conn: duckdb.DuckDBPyConnection, limit: str | None) -> None:
    """Hand the buffers DuckDB cached for earlier scans back to the system, keeping `limit` after.

    DuckDB keeps freed memory cached up to its limit; lowering the limit evicts it (unchanged
    data is re-read from the file when needed). At 2M people that is gigabytes a weekly run
    would otherwise hold while it renders digests in Python. Best effort: never fails a run.
    """
    try:
        conn.execute("set memory_limit = '64MB'")
    except duckdb.Error:
        pass
    finally:
        if limit:
            conn.execute(f"set memory_limit = '{limit}'")  # validated by [store] memory_limit's pattern
        else:
            conn.execute("reset memory_limit")


@contextmanager
def few_checkpoints(conn: duckdb.DuckDBPyConnection, wal: str = "1GB") -> Iterator[None]:
    """Let the write-ahead log grow to `wal` before DuckDB checkpoints, for a run of many commits.

    Each queued batch of digests is its own transaction (tens of MB of messages); at the default
    16 MB every commit checkpointed, and a checkpoint of a store holding 142M events costs about
    1.5 s: 80 of 90 s of queueing 105k digests at 2M. Committed data is as safe in the log.
    """
    conn.execute(f"set checkpoint_threshold = '{wal}'")
    try:
        yield
    finally:
        try:
            conn.execute("reset checkpoint_threshold")
        except duckdb.Error:  # a failing batch's own error is the one to report
            log.debug("could not reset checkpoint_threshold", exc_info=True)
