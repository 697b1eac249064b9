"""The DuckDB store: one file, a versioned schema, plain messages when it is busy.

Migrations are numbered `.sql` files in `pipelines/sql/migrations/`; each runs
once, in order, inside a transaction, and is recorded in `schema_migrations`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.errors import StoreError, StoreLockedError

log = logging.getLogger("retention.store")
MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.iterdir()):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


SCHEMA_VERSION = migrations()[-1][0]


def connect(path: Path, *, read_only: bool = False, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) and migrate the store at `path`.

    `memory_limit` (DuckDB's syntax, e.g. "2GB") caps DuckDB's own memory; beyond it, work
    spills to a temporary folder beside the store. Unset: DuckDB's default, 80% of RAM.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError(f"no store at {path}: run `retention ingest DIR` (or `retention demo`) first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        config: dict[str, str | bool | int | float | list[str]] = {"memory_limit": memory_limit} if memory_limit else {}
        conn = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreLockedError(
                f"the store {path} is in use by {_holder(path)}; wait for it to finish or close it, then try again"
            ) from None
        raise StoreError(f"cannot open the store {path}: {exc}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open the store {path}: {exc}") from None
    if not read_only:
        migrate(conn)
    else:
        version = current_version(conn)
        if version < SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"the store {path} has schema version {version}, this program needs {SCHEMA_VERSION};"
                " run any writing command (e.g. `retention ingest`) to migrate it"
            )
    return conn


@contextmanager
def open_store(
    path: Path, *, read_only: bool = False, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store, open for this block; a writer leaves a note saying who holds it (see `_holder`)."""
    conn = connect(path, read_only=read_only, memory_limit=memory_limit)
    note = None if read_only else _leave_note(Path(path))
    try:
        yield conn
    finally:
        conn.close()
        if note is not None:
            note.unlink(missing_ok=True)


def _note_path(path: Path) -> Path:
    return path.with_name(path.name + ".in-use")


def _leave_note(path: Path) -> Path | None:
    """`<store>.in-use`: which command holds the store and since when, for the next one's message.

    Only the command's words are kept (`retention model train`), never its arguments (an id).
    """
    words = [Path(sys.argv[0]).name if sys.argv else "python"]
    for arg in sys.argv[1:3]:
        if not re.fullmatch(r"[a-z][a-z-]*", arg):
            break
        words.append(arg)
    note = _note_path(path)
    try:
        note.write_text(json.dumps({"pid": os.getpid(), "command": " ".join(words), "since": time.time()}))
    except OSError:
        return None
    return note


def _holder(path: Path) -> str:
    """"`retention run` (pid 4242) for 3 min" from the holder's note, or a general phrase without one."""
    general = "another process (another `retention` command, a weekly flow or a notebook)"
    try:
        note = json.loads(_note_path(path).read_text())
        pid, command, since = int(note["pid"]), str(note["command"]), float(note["since"])
        os.kill(pid, 0)  # still running? (a crashed holder's note is stale)
    except (OSError, ValueError, KeyError, TypeError):
        return general
    minutes = max(0, int(time.time() - since)) // 60
    held = f"for {minutes} min" if minutes else "for less than a minute"
    return f"`{command}` (pid {pid}, {held})"


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    exists = fetch_value(
        conn, "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
    )
    if not exists:
        return 0
    return int(fetch_value(conn, "select coalesce(max(version), 0) from schema_migrations") or 0)


def migrate(conn: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations; returns the resulting schema version."""
    conn.execute(
        "create table if not exists schema_migrations (version integer primary key, applied_at timestamp not null)"
    )
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store has schema version {version}, newer than this program ({SCHEMA_VERSION});"
            " upgrade retention-nudges"
        )
    for number, path in migrations():
        if number <= version:
            continue
        with transaction(conn):
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute("insert into schema_migrations values (?, ?)", [number, utcnow()])
        version = number
    return version


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
