"""What ingestion set aside: counts by file and reason, and the rows, for `retention quarantine`.

Values of sensitive columns (names, emails, free text, survey answers) were never copied
into the `quarantine` table; those rows show the value as withheld.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from core.contract import SOURCES_BY_NAME
from core.files import atomic_write

WITHHELD = "(withheld: sensitive column)"
_FILTER = """
    where ($file is null or file = $file or file like '%/' || $file)
      and ($reason is null or contains(lower(reason), lower($reason)))
"""


@dataclass(frozen=True)
class QuarantinedRow:
    source: str
    file: str
    line: int | None
    column: str | None
    reason: str
    value: str | None  # None: withheld (sensitive) or no single value (a broken line)
    quarantined_at: datetime


@dataclass(frozen=True)
class QuarantineView:
    counts: list[tuple[str, str, int]]  # (file, reason, rows), most rows first within a file
    rows: list[QuarantinedRow]  # the first `limit` rows, by file and line
    total: int


def view(
    conn: duckdb.DuckDBPyConnection, *, file: str | None = None, reason: str | None = None, limit: int | None = 50
) -> QuarantineView:
    """Quarantined rows of one file (its path as ingested, or its name) and/or with a reason containing `reason`."""
    params = {"file": file, "reason": reason}
    counts = conn.execute(
        f"select file, reason, count(*) from quarantine {_FILTER} group by 1, 2 order by 1, 3 desc, 2", params
    ).fetchall()
    rows = conn.execute(
        f"select source, file, line, column_name, reason, value, quarantined_at from quarantine {_FILTER}"
        " order by file, line nulls last, reason" + (f" limit {int(limit)}" if limit is not None else ""),
        params,
    ).fetchall()
    return QuarantineView(
        counts=[(str(f), str(r), int(n)) for f, r, n in counts],
        rows=[QuarantinedRow(*row) for row in rows],
        total=sum(int(n) for _, _, n in counts),
    )


def write_csv(rows: list[QuarantinedRow], path: Path) -> None:
    """Every row as CSV (file, line, column, reason, value, quarantined_at), written atomically."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "line", "column", "reason", "value", "quarantined_at"])
    for r in rows:
        writer.writerow([r.file, r.line, r.column or "", r.reason, shown_value(r), f"{r.quarantined_at:%Y-%m-%d %H:%M}"])
    atomic_write(Path(path), out.getvalue().encode("utf-8"))


def shown_value(row: QuarantinedRow) -> str:
    """The value as stored; a sensitive column's value was never stored, and says so."""
    if row.value is not None:
        return row.value
    return WITHHELD if _sensitive(row.source, row.column) else ""


def _sensitive(source: str, column: str | None) -> bool:
    try:
        return column is not None and SOURCES_BY_NAME[source].column(column).sensitive
    except KeyError:
        return False
