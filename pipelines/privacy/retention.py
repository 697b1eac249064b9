"""Retention: how long the store keeps events, and no bytes left of what it deleted.

`purge_old_events` deletes events older than `[retention] keep_days`; `apply_data_rules`,
the weekly run's first step, purges and syncs the opt-out file. `compact_store` rewrites
the DuckDB file from its live rows, so rows deleted by `forget` do not linger in free pages.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from core.contract import SOURCES
from core.db import fetch_value, quote_ident, transaction
from core.errors import PrivacyError
from pipelines.privacy.optout import OptOutSync, sync_opt_out_file

if TYPE_CHECKING:
    from pipelines.settings import Settings

log = logging.getLogger("retention.privacy")


def purge_old_events(conn: duckdb.DuckDBPyConnection, today: date, keep_days: int) -> dict[str, int]:
    """Delete signal events dated more than `keep_days` before `today`; rows deleted per table."""
    cutoff = today - timedelta(days=keep_days)
    deleted: dict[str, int] = {}
    with transaction(conn):
        for source in SOURCES:
            if source.event_time is None or not source.purged:
                continue
            n = int(fetch_value(conn, f'delete from {source.name} where "{source.event_time}" < ?', [cutoff]) or 0)
            if n:
                deleted[source.name] = n
    log.info("retention: %d events older than %d days deleted", sum(deleted.values()), keep_days)
    return deleted


@dataclass(frozen=True)
class DataRules:
    purged: dict[str, int]
    opt_out: OptOutSync | None


def apply_data_rules(conn: duckdb.DuckDBPyConnection, settings: Settings, *, today: date | None = None) -> DataRules:
    """The weekly run's first step: purge events past `[retention] keep_days`, sync the opt-out file."""
    keep = settings.retention.keep_days
    purged = purge_old_events(conn, today or date.today(), keep) if keep else {}
    return DataRules(purged, sync_opt_out_file(conn, settings.privacy.opt_out_file))


def compact_store(path: Path) -> None:
    """Rewrite the DuckDB file from its live rows only, so deleted rows leave no bytes in it.

    DuckDB reuses freed blocks but does not clear them, and VACUUM does not rewrite them; a
    copy into a fresh file (`COPY FROM DATABASE`) holds only live data. Needs the store closed
    (no other connection, in this process or another); replaces the file atomically.
    """
    path = Path(path)
    fresh = path.with_name(path.name + ".compact")
    for leftover in (fresh, Path(str(fresh) + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        conn = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise PrivacyError(f"cannot compact the store {path}: {exc}") from None
    try:
        source = str(fetch_value(conn, "select current_database()"))
        conn.execute(f"attach '{str(fresh).replace(chr(39), chr(39) * 2)}' as _compact")
        conn.execute(f"copy from database {quote_ident(source)} to _compact")
        conn.execute("detach _compact")
    except duckdb.Error as exc:
        fresh.unlink(missing_ok=True)
        raise PrivacyError(f"cannot compact the store {path}: {exc}") from None
    finally:
        conn.close()
    os.replace(fresh, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
