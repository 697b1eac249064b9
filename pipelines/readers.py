"""Read one drop-folder file into a staging table of text columns, with line numbers.

Every value is staged as text so that a wrong type is a quarantined row, never
a failed load. Each staged row carries `_line`, the line of the file it starts
on (the row number for Parquet), and structural problems (wrong field count,
broken quoting, bad UTF-8, unparseable JSON) come back as rejects with their
line. CSV goes through DuckDB's reader; only files whose records do not map
one-to-one onto lines (quoted newlines, blank lines) take a slower exact path.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from core.db import fetch_value, quote_ident
from core.errors import IngestError

STAGE = "_stage"
# Python's csv module refuses a field over csv.field_size_limit() characters (128 Ki by default):
# no value we keep is that long, and a 50 MB cell is a broken export, not data.
FIELD_TOO_LONG = f"field too long (over {csv.field_size_limit() // 1024} KiB)"
BROKEN_QUOTING = "unreadable line (broken quoting)"


@dataclass
class Staged:
    """What a reader left in the `_stage` table, and the rows it could not stage."""

    headers: list[str]
    rows: int
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


class NeedsExactRead(Exception):
    """DuckDB could not read a CSV as a whole; the caller's transaction is spoilt.

    The caller rolls back and ingests again, reading this file the exact way.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def stage_file(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    display: str,
    delimiter: str | None = None,
    exact: bool = False,
    lines: int,
) -> Staged:
    """Make `_stage` (text columns plus `_line`) from `path`; `display` names the file in messages.

    CSV is read by DuckDB straight into a temp table on the caller's connection:
    no copy crosses into Python. When DuckDB gives up on the file as a whole
    (an error spoils the open transaction) this raises `NeedsExactRead`, and the
    retry passes `exact=True` to read it line by line in Python. `lines` is the
    file's physical line count (the caller counts it while hashing the file).
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".jsonl"):
        raise IngestError(f"{display}: unsupported file type {suffix!r} (use .csv, .parquet or .jsonl)")
    if path.stat().st_size == 0:
        raise IngestError(f"{display}: the file is empty (expected a header row and data)")
    conn.execute(f"drop view if exists {STAGE}")
    for table in ("_stage_raw", "_rejects", "_rejects_scan"):
        conn.execute(f"drop table if exists {table}")
    if suffix == ".csv" and not exact:
        staged = _read_csv(conn, path, display=display, delimiter=delimiter, lines=lines)
        if staged is not None:
            return staged
        table, staged = _read_csv_python(path, display=display, delimiter=delimiter or _delimiter(conn))
    elif suffix == ".csv":
        table, staged = _read_csv_python(path, display=display, delimiter=delimiter)
    elif suffix == ".parquet":
        staged = _read_parquet(conn, path, display=display)
        conn.execute(f"create temp view {STAGE} as select * from _stage_raw")
        return staged
    else:
        table, staged = _read_jsonl(path)
    conn.register("_stage_view", table)
    try:
        conn.execute("drop table if exists _stage_raw")
        conn.execute("create temp table _stage_raw as select * from _stage_view")
    finally:
        conn.unregister("_stage_view")
    conn.execute(f"create temp view {STAGE} as select * from _stage_raw")
    return staged


def _read_csv(
    conn: duckdb.DuckDBPyConnection, path: Path, *, display: str, delimiter: str | None, lines: int
) -> Staged | None:
    """Stage with DuckDB's reader; None when records and lines disagree (the exact path must number them)."""
    params: dict[str, object] = {"path": str(path)}
    delim_sql = ""
    if delimiter:
        params["delim"] = delimiter
        delim_sql = ", delim = $delim"
    try:
        conn.execute(
            "create temp table _stage_raw as "
            "select * from read_csv($path, all_varchar = true, header = true, quote = '\"',"
            " escape = '\"', store_rejects = true, rejects_table = '_rejects',"
            f" rejects_scan = '_rejects_scan', strict_mode = true{delim_sql})",
            params,
        )
    except duckdb.Error:
        raise NeedsExactRead(path) from None
    headers = [row[0] for row in conn.execute("describe _stage_raw").fetchall()]
    good = _count(conn, "_stage_raw")
    reject_rows = conn.execute(
        "select line, any_value(error_type) from _rejects group by line order by line"
    ).fetchall()
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
    conn.execute(f"create temp view {STAGE} as select * from _stage_raw positional join _numbering")
    rejects = [(int(line), _csv_reason(kind)) for line, kind in reject_rows]
    return Staged(headers=headers, rows=good, rejects=rejects)


def _delimiter(conn: duckdb.DuckDBPyConnection) -> str | None:
    value = fetch_value(conn, "select delimiter from _rejects_scan limit 1")
    return str(value) if value else None


def _csv_reason(kind: str) -> str:
    return {
        "MISSING COLUMNS": "too few fields on this line",
        "TOO MANY COLUMNS": "too many fields on this line",
        "UNQUOTED VALUE": "a quote character inside an unquoted value",
        "LINE SIZE OVER MAXIMUM": "line too long",
        "INVALID ENCODING": "not valid UTF-8",
        "INVALID UNICODE": "not valid UTF-8",
    }.get(str(kind), f"unreadable line ({str(kind).lower()})")


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
    table = _text_table(headers, columns, lines)
    return table, Staged(headers=table.column_names[:-1], rows=len(lines), rejects=rejects)


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_parquet(conn: duckdb.DuckDBPyConnection, path: Path, *, display: str) -> Staged:
    """Stage a Parquet file's columns as text, numbered by row (the header is not a row)."""
    try:
        names = [
            row[0]
            for row in conn.execute("describe select * from read_parquet($path)", {"path": str(path)}).fetchall()
        ]
        names_out = _unique_headers(names)
        casts = ", ".join(
            f"cast({quote_ident(n)} as varchar) as {quote_ident(o)}" for n, o in zip(names, names_out, strict=True)
        )
        conn.execute(
            f"create temp table _stage_raw as select {casts}, file_row_number + 1 as _line"
            " from read_parquet($path, file_row_number = true)",
            {"path": str(path)},
        )
    except duckdb.Error as exc:
        raise IngestError(f"{display}: not a readable Parquet file ({_first_line(exc)})") from None
    return Staged(headers=names_out, rows=_count(conn, "_stage_raw"))


def _read_jsonl(path: Path) -> tuple[pa.Table, Staged]:
    headers: dict[str, None] = {}
    records: list[tuple[int, dict[str, object]]] = []
    rejects: list[tuple[int, str]] = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError:
                rejects.append((number, "not valid UTF-8"))
                continue
            except json.JSONDecodeError:
                rejects.append((number, "not valid JSON"))
                continue
            if not isinstance(obj, dict):
                rejects.append((number, "not a JSON object"))
                continue
            for key in obj:
                headers.setdefault(str(key), None)
            records.append((number, obj))
    names = list(headers)
    columns: list[list[str | None]] = [[_json_text(obj.get(n)) for _, obj in records] for n in names]
    table = _text_table(names, columns, [n for n, _ in records])
    return table, Staged(headers=table.column_names[:-1], rows=len(records), rejects=rejects)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    return json.dumps(value)


def _text_table(headers: list[str], columns: list[list[str | None]], lines: list[int]) -> pa.Table:
    headers = _unique_headers(headers)
    arrays = [pa.array(col, type=pa.string()) for col in columns]
    return pa.table(arrays + [pa.array(lines, type=pa.int64())], names=[*headers, "_line"])


def _unique_headers(headers: list[str]) -> list[str]:
    """Column names Arrow and DuckDB accept: valid UTF-8, distinct, never our `_line`."""
    out: list[str] = []
    for i, header in enumerate(headers):
        name = header.encode("utf-8", errors="replace").decode("utf-8")
        if name in out or name == "_line":
            name = f"{name}_{i}"
        out.append(name)
    return out


def _count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(fetch_value(conn, f"select count(*) from {table}") or 0)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200]
