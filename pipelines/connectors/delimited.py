"""CSV (any delimiter): DuckDB's reader first, an exact line-by-line reader when records and lines disagree.

DuckDB reads the file straight into a temp table on the caller's connection, so no copy
crosses into Python. Only files whose records do not map one-to-one onto lines (quoted
newlines, blank lines) take the slower exact path; a file DuckDB gives up on as a whole
spoils the open transaction, so that case raises `NeedsExactRead` for the caller to retry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from core.contract import Source
from core.db import fetch_value
from core.errors import IngestError
from pipelines.connectors.base import (
    STAGE,
    Connector,
    ExportFile,
    NeedsExactRead,
    Staged,
)
from pipelines.connectors.staging import count_rows, stage_table, text_table

# Python's csv module refuses a field over csv.field_size_limit() characters (128 Ki by default):
# no value we keep is that long, and a 50 MB cell is a broken export, not data.
FIELD_TOO_LONG = f"field too long (over {csv.field_size_limit() // 1024} KiB)"
BROKEN_QUOTING = "unreadable line (broken quoting)"
# DuckDB's reject kinds, in words for the quarantine.
REJECT_REASONS = {
    "MISSING COLUMNS": "too few fields on this line",
    "TOO MANY COLUMNS": "too many fields on this line",
    "UNQUOTED VALUE": "a quote character inside an unquoted value",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "INVALID ENCODING": "not valid UTF-8",
    "INVALID UNICODE": "not valid UTF-8",
}
READ_CSV = (
    "create temp table _stage_raw as "
    "select * from read_csv($path, all_varchar = true, header = true, quote = '\"',"
    " escape = '\"', store_rejects = true, rejects_table = '_rejects',"
    " rejects_scan = '_rejects_scan', strict_mode = true{delimiter})"
)
REJECTED_LINES = "select line, any_value(error_type) from _rejects group by line order by line"
SNIFFED_DELIMITER = "select delimiter from _rejects_scan limit 1"
NUMBERED_STAGE = f"create temp view {STAGE} as select * from _stage_raw positional join _numbering"


class DelimitedConnector(Connector):
    """`.csv` files; option `delimiter` (default: sniffed)."""

    format = "csv"
    extensions = (".csv",)

    def stage(
        self,
        conn: duckdb.DuckDBPyConnection,
        source: Source,
        export: ExportFile,
        options: Mapping[str, object],
    ) -> Staged:
        delimiter = str(options["delimiter"]) if options.get("delimiter") else None
        if not export.exact:
            lines = export.lines if export.lines is not None else physical_lines(export.path)
            staged = _read_csv(conn, export.path, delimiter=delimiter, lines=lines)
            if staged is not None:
                return staged
            delimiter = delimiter or _sniffed_delimiter(conn)
        table, staged = _read_csv_python(export.path, display=export.display, delimiter=delimiter)
        stage_table(conn, table)
        return staged


def physical_lines(path: Path) -> int:
    """Lines in the file, a last line without a newline included."""
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _read_csv(conn: duckdb.DuckDBPyConnection, path: Path, *, delimiter: str | None, lines: int) -> Staged | None:
    """Stage with DuckDB's reader; None when records and lines disagree (the exact path must number them)."""
    params: dict[str, object] = {"path": str(path)}
    if delimiter:
        params["delim"] = delimiter
    try:
        conn.execute(READ_CSV.format(delimiter=", delim = $delim" if delimiter else ""), params)
    except duckdb.Error:
        raise NeedsExactRead(path) from None
    headers = [row[0] for row in conn.execute("describe _stage_raw").fetchall()]
    good = count_rows(conn, "_stage_raw")
    reject_rows = conn.execute(REJECTED_LINES).fetchall()
    physical = lines
    reject_lines = np.array([int(r[0]) for r in reject_rows], dtype=np.int64)
    if (
        physical != 1 + good + len(reject_rows)
        or "_line" in (h.lower() for h in headers)
        or (reject_lines.size and (reject_lines.min() < 2 or reject_lines.max() > physical))
    ):
        # Records and lines disagree (quoted newlines, blank lines, bare CRs): number them exactly.
        return None
    # Line numbers of the rows that staged: every data line except the rejected ones.
    keep = np.ones(physical + 1, dtype=bool)
    keep[:2] = False
    keep[reject_lines] = False
    numbers = np.flatnonzero(keep).astype(np.int32 if physical < 2**31 else np.int64)  # half the memory at 55M rows
    del keep
    conn.register("_numbering", pa.table({"_line": numbers}))
    conn.execute(NUMBERED_STAGE)
    rejects = [(int(line), _reject_reason(kind)) for line, kind in reject_rows]
    return Staged(headers=headers, rows=good, rejects=rejects)


def _sniffed_delimiter(conn: duckdb.DuckDBPyConnection) -> str | None:
    value = fetch_value(conn, SNIFFED_DELIMITER)
    return str(value) if value else None


def _reject_reason(kind: str) -> str:
    return REJECT_REASONS.get(str(kind), f"unreadable line ({str(kind).lower()})")


def _read_csv_python(path: Path, *, display: str, delimiter: str | None) -> tuple[pa.Table, Staged]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    try:
        header = next(reader)
    except StopIteration:
        raise IngestError(f"{display}: the file is empty (expected a header row and data)") from None
    except csv.Error as exc:
        raise IngestError(f"{display}: line 1: the header row cannot be read ({exc})") from None
    headers = [h.strip() for h in header]
    width = len(headers)
    columns: list[list[str | None]] = [[] for _ in headers]
    lines: list[int] = []
    rejects: list[tuple[int, str]] = []
    start = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejects.append((start, FIELD_TOO_LONG if "field larger than field limit" in str(exc) else BROKEN_QUOTING))
            start = reader.line_num + 1
            continue
        line = start
        start = reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        if len(record) != width:
            reason = "too few fields on this line" if len(record) < width else "too many fields on this line"
            rejects.append((line, reason))
            continue
        if any(_has_surrogates(v) for v in record):
            rejects.append((line, "not valid UTF-8"))
            continue
        for i, value in enumerate(record):
            columns[i].append(value)
        lines.append(line)
    table = text_table(headers, columns, lines)
    return table, Staged(headers=table.column_names[:-1], rows=len(lines), rejects=rejects)


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
