"""Files mode: the week's digests written to the outbox folder, a view of the outbox table.

Each message becomes `<manager>.eml` plus an HTML preview; a deleted file is written again
byte for byte (same Message-ID), never a second, different email. Once every file is on
disk the rows are `written`: in files mode that is delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.db import utcnow
from core.errors import DeliveryError
from core.files import atomic_write
from nudges.delivery.outbox import safe_filename

FILES_PAGE = 2000  # digests read into memory at a time when writing files


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
