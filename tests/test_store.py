"""The store: versioned schema, and a plain message when another process holds the file."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from core.db import few_checkpoints, release_memory
from core.errors import StoreError, StoreLockedError
from pipelines.store import SCHEMA_VERSION, connect, current_version, migrate


def test_a_new_store_is_migrated_to_the_current_schema(conn):
    assert current_version(conn) == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("select table_name from information_schema.tables").fetchall()}
    assert {"employees", "recognition", "quarantine", "runs", "outbox", "ingested_files"} <= tables


def test_migrating_twice_changes_nothing(conn):
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.execute("select count(*) from schema_migrations").fetchall() == [(SCHEMA_VERSION,)]


def test_a_store_held_by_another_process_gives_a_plain_message(store_path):
    connect(store_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(store_path)!r}); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match="in use by another process") as err:
            connect(store_path)
        assert "Traceback" not in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    connect(store_path).close()  # free again once the other process is gone


def test_a_store_held_by_a_retention_command_names_the_command_and_for_how_long(store_path):
    connect(store_path).close()
    code = (
        "import sys, time\n"
        "sys.argv = ['retention', 'model', 'train', 'E0042']\n"
        "from pipelines.store import open_store\n"
        f"with open_store({str(store_path)!r}):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as err:
            connect(store_path)
        assert re.search(r"in use by `retention model train` \(pid \d+, for less than a minute\)", str(err.value))
        assert "E0042" not in str(err.value)  # the command's words, never its arguments
    finally:
        holder.kill()
        holder.wait()


def test_reading_a_store_that_does_not_exist_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="retention ingest"):
        connect(tmp_path / "missing.duckdb", read_only=True)


def test_a_configured_memory_limit_caps_duckdb(tmp_path):
    conn = connect(tmp_path / "capped.duckdb", memory_limit="256MB")
    try:
        limit = conn.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        conn.close()
    assert limit.replace(" ", "") in {"256.0MB", "244.1MiB", "256MB"}


def test_releasing_duckdbs_cached_memory_keeps_the_configured_limit(tmp_path):
    conn = connect(tmp_path / "m.duckdb", memory_limit="1GB")
    try:
        before = conn.execute("select current_setting('memory_limit')").fetchone()
        conn.execute("create table t as select range as i from range(1000000)")
        release_memory(conn, "1GB")
        assert conn.execute("select current_setting('memory_limit')").fetchone() == before
        assert conn.execute("select count(*) from t").fetchone() == (1_000_000,)  # the data is still there
    finally:
        conn.close()


def test_releasing_memory_without_a_configured_limit_returns_to_duckdbs_default(tmp_path):
    conn = connect(tmp_path / "m.duckdb")
    try:
        default = conn.execute("select current_setting('memory_limit')").fetchone()
        release_memory(conn, None)
        assert conn.execute("select current_setting('memory_limit')").fetchone() == default
    finally:
        conn.close()


def test_few_checkpoints_keeps_commits_in_the_log_and_restores_the_threshold(tmp_path):
    path = tmp_path / "c.duckdb"
    conn = connect(path)
    try:
        conn.execute("create table t (s varchar)")
        default = conn.execute("select current_setting('checkpoint_threshold')").fetchone()
        wal = path.with_name(path.name + ".wal")
        with few_checkpoints(conn):
            conn.execute("insert into t select repeat('x', 1000) from range(40000)")  # 40 MB: over the default
            assert wal.is_file() and wal.stat().st_size > 16 * 2**20  # committed, not checkpointed yet
        assert conn.execute("select current_setting('checkpoint_threshold')").fetchone() == default
        conn.execute("insert into t values ('y')")  # the next commit over the default threshold checkpoints
        assert not wal.is_file() or wal.stat().st_size < 2**20
        assert conn.execute("select count(*) from t").fetchone() == (40001,)
    finally:
        conn.close()
