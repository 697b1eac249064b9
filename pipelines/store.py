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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.db import fetch_value, transaction, utcnow
from core.errors import StoreError, StoreLockedError

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
