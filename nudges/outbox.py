"""The outbox: one message per (ISO week, manager), whatever happens after.

A digest enters the `outbox` table once; a re-run of the week finds it there
and adds nothing. Files mode then writes each message as `<manager>.eml` plus
an HTML preview; the files are a view of the table, so a deleted file is
written again byte for byte (same Message-ID), never a second, different email.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from core.db import fetch_value, utcnow
from core.errors import DeliveryError
from core.files import atomic_write
from nudges.render import Digest

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
FILES_PAGE = 2000  # digests read into memory at a time when writing files


def safe_filename(manager_id: str) -> str:
    """A file name that cannot escape the folder, distinct for distinct ids."""
    cleaned = _UNSAFE.sub("_", manager_id).lstrip(".")
    if cleaned == manager_id and cleaned:
        return cleaned
    suffix = hashlib.sha256(manager_id.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:60] or 'manager'}-{suffix}"


def queued_managers(conn: duckdb.DuckDBPyConnection, week: str) -> set[str]:
    """Managers who already have this week's digest: a re-run must not make another."""
    rows = conn.execute("select manager_id from outbox where week = ?", [week]).fetchall()
    return {r[0] for r in rows}


def enqueue(conn: duckdb.DuckDBPyConnection, messages: Sequence[tuple[Digest, bytes]]) -> int:
    """Queue each digest unless its (week, manager) is already there; returns how many were added.

    One set-based insert: a row-at-a-time loop costs milliseconds per statement.
    """
    if not messages:
        return 0
    batch = pa.table(
        {
            "week": [d.week for d, _ in messages],
            "manager_id": [d.manager_id for d, _ in messages],
            "message_id": [d.message_id for d, _ in messages],
            "recipient": [d.recipient for d, _ in messages],
            "subject": [d.subject for d, _ in messages],
            "message": pa.array([m for _, m in messages], type=pa.binary()),
            "html": [d.html for d, _ in messages],
            "nudge_count": pa.array([d.nudge_count for d, _ in messages], type=pa.int32()),
        }
    )
    return enqueue_table(conn, batch)


def enqueue_table(conn: duckdb.DuckDBPyConnection, batch: pa.Table) -> int:
    """Queue prepared rows (week, manager_id, message_id, recipient, subject, message bytes, html,
    nudge_count, in that order) unless their (week, manager) is there; returns how many were added."""
    before = fetch_value(conn, "select count(*) from outbox")
    conn.register("_outbox_batch", batch)
    try:
        conn.execute(
            "insert into outbox (week, manager_id, message_id, recipient, subject, message, html, nudge_count,"
            " state, created_at) select *, 'queued', ? from _outbox_batch on conflict do nothing",
            [utcnow()],
        )
    finally:
        conn.unregister("_outbox_batch")
    return int(fetch_value(conn, "select count(*) from outbox") - before)


@dataclass
class FilesReport:
    folder: Path
    written: int = 0
    unchanged: int = 0


def deliver_files(conn: duckdb.DuckDBPyConnection, week: str, outbox_dir: Path) -> FilesReport:
    """Write every message of the week under `outbox_dir/<week>/`; mark queued ones `written`."""
    folder = Path(outbox_dir) / week
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeliveryError(f"cannot create the outbox folder {folder}: {exc.strerror}") from None
    report = FilesReport(folder=folder)
    # A withdrawn digest (it named someone who was later forgotten) is never written again.
    managers = [
        r[0]
        for r in conn.execute(
            "select manager_id from outbox where week = ? and state <> 'withdrawn' order by 1", [week]
        ).fetchall()
    ]
    # A page of bodies at a time: a 2M-person company's week is 4 GB of messages and previews.
    for start in range(0, len(managers), FILES_PAGE):
        page = managers[start : start + FILES_PAGE]
        rows = conn.execute(
            "select manager_id, message, html from outbox where week = ? and manager_id >= ? and manager_id <= ?"
            " and state <> 'withdrawn' order by manager_id",
            [week, page[0], page[-1]],
        ).fetchall()
        for manager_id, message, html in rows:
            name = safe_filename(manager_id)
            changed = _write_if_different(folder / f"{name}.eml", bytes(message))
            changed |= _write_if_different(folder / f"{name}.html", html.encode("utf-8"))
            report.written += changed
            report.unchanged += not changed
        del rows
    # Every file of the week is on disk now: in files mode that is delivery, and it is called what it is.
    conn.execute(
        "update outbox set state = 'written', delivered_at = ? where week = ? and state not in ('sent', 'written', 'withdrawn')",
        [utcnow(), week],
    )
    return report


def _write_if_different(path: Path, data: bytes) -> bool:
    """Write unless identical already; atomically, so a crash never leaves half a message."""
    try:
        if path.is_file() and path.read_bytes() == data:
            return False
        atomic_write(path, data)
    except OSError as exc:
        raise DeliveryError(f"cannot write {path}: {exc.strerror}") from None
    return True
