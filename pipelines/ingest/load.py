"""Loading: the folder as one transaction, each changed file staged, checked and swapped in, the run recorded.

A failure anywhere rolls the whole folder back, so the store is as it was. A CSV that
DuckDB's fast reader gives up on spoils the transaction: the folder is ingested again,
that file read the exact way.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb

from core.contract import EMPLOYEES
from core.db import fetch_one, fetch_value, quote_ident, transaction, utcnow
from core.errors import IngestError
from pipelines.connectors.base import (
    STAGE,
    ExportFile,
    NeedsExactRead,
    Staged,
    drop_stage,
)
from pipelines.connectors.registry import stage_export
from pipelines.ingest.check import check
from pipelines.ingest.discover import DropFile, FileScan, changed, discover, scan_file
from pipelines.ingest.headers import map_headers
from pipelines.ingest.options import IngestOptions
from pipelines.ingest.report import FileReport, IngestReport
from pipelines.ingest.rules import unparsed_date_reasons
from pipelines.privacy.forgotten import drop_forgotten_rows

Progress = Callable[[str, int, int], None]  # (file, files done, files total)
log = logging.getLogger("retention.ingest")

RECORDED_FILE = "select sha256, size, mtime_ns from ingested_files where path = ?"
TOUCH_FILE = "update ingested_files set size = ?, mtime_ns = ? where path = ?"
RECORD_FILE = "insert or replace into ingested_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# The run, as `retention demo` reads it back to refuse mixing its people into another folder's store.
RECORD_RUN = "insert into runs values (?, 'ingest', null, ?, ?, 'completed', ?)"
FIRST_REJECT = "select _line, _reason from _checked where _reason is not null order by _line limit 1"
LOADED_ROWS = "insert into {table} ({cols}, _file, _line) select {cols}, ?, _line from _checked where _reason is null"
QUARANTINED_ROWS = (
    "insert into quarantine select ?, ?, ?, _line, _column, _reason, _value, ? from _checked where _reason is not null"
)
UNSTAGED_ROWS = "insert into quarantine values (?, ?, ?, ?, null, ?, null, ?)"
CHECKED_COUNTS = (
    "select count(*) filter (where _reason is null), count(*) filter (where _reason is not null) from _checked"
)
CHECKED_REASONS = "select _reason, count(*) from _checked where _reason is not null group by 1"
ATTRIBUTE_ROWS = (
    "insert into employee_attributes select c.employee_id, ?, nullif(trim(s.{header}), ''), ? from _checked c join "
    + STAGE
    + " s using (_line) where c._reason is null"
)


def ingest_folder(
    conn: duckdb.DuckDBPyConnection,
    folder: Path,
    options: IngestOptions,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Load every changed file of `folder`, all or nothing, and record the run in `runs`."""
    run_id = run_id or uuid.uuid4().hex
    started = utcnow()
    exact: set[Path] = set()
    while True:
        try:
            return _ingest_once(conn, folder, options, run_id=run_id, started=started, progress=progress, exact=exact)
        except NeedsExactRead as retry:
            # Rolled back: DuckDB could not read that CSV as a whole. Start again, reading it line by line.
            if retry.path in exact:
                raise IngestError(f"{retry.path.name}: the file cannot be read") from None
            exact.add(retry.path)


def _ingest_once(
    conn: duckdb.DuckDBPyConnection,
    folder: Path,
    options: IngestOptions,
    *,
    run_id: str,
    started: datetime,
    progress: Progress | None,
    exact: set[Path],
) -> IngestReport:
    report = IngestReport(run_id=run_id)
    with transaction(conn), ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-scan") as pool:
        files, report.ignored = discover(folder, conn)
        # Changed files are hashed and their lines counted on a thread, ahead of DuckDB reading them.
        scans = {d.path: pool.submit(scan_file, d.path) for d in files if changed(conn, d)}
        try:
            for done, drop in enumerate(files):
                if progress:
                    progress(drop.relative, done, len(files))
                scan = scans.get(drop.path)
                report.files.append(
                    _ingest_file(conn, drop, options, run_id=run_id, exact=drop.path in exact, scan=scan)
                )
        except BaseException:
            pool.shutdown(cancel_futures=True)  # a failed folder reads no further files
            raise
        if progress:
            progress("", len(files), len(files))
        drop_stage(conn)
        conn.execute("drop table if exists _checked")
        _record_run(conn, report, folder, started)
    return report


def _record_run(conn: duckdb.DuckDBPyConnection, report: IngestReport, folder: Path, started: datetime) -> None:
    """One `runs` row per ingest, whoever called it (the CLI, the flow), committed with the data."""
    summary = {
        "folder": str(folder.resolve()),
        "files_loaded": sum(f.status == "loaded" for f in report.files),
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
    }
    conn.execute(RECORD_RUN, [report.run_id, started, utcnow(), json.dumps(summary)])


def _ingest_file(
    conn: duckdb.DuckDBPyConnection,
    drop: DropFile,
    options: IngestOptions,
    *,
    run_id: str,
    exact: bool,
    scan: Future[FileScan] | None,
) -> FileReport:
    stat = drop.path.stat()
    previous = fetch_one(conn, RECORDED_FILE, [drop.relative])
    if scan is None or (previous and (previous[1], previous[2]) == (stat.st_size, stat.st_mtime_ns)):
        # Same size and modification time as when loaded: not read again (history grows, weekly cost must not).
        return FileReport(drop.relative, drop.source.name, "unchanged")
    scanned = scan.result()
    sha = scanned.sha256
    if previous and previous[0] == sha:
        conn.execute(TOUCH_FILE, [stat.st_size, stat.st_mtime_ns, drop.relative])
        return FileReport(drop.relative, drop.source.name, "unchanged")
    export = ExportFile(drop.path, display=drop.relative, lines=scanned.lines, exact=exact)
    staged = stage_export(conn, drop.source, export, _connector_options(options))
    mapping = map_headers(drop.source, staged.headers, options.columns.get(drop.source.name, {}), display=drop.relative)
    if staged.rows + len(staged.rejects) == 0 and drop.source is not EMPLOYEES:
        return _empty_file(conn, drop)
    # Every checked row carries its line number, so from here on row order does not matter and
    # DuckDB may check and insert in parallel (15% faster at 100k). Staging keeps the order:
    # line numbers are joined to rows by position.
    conn.execute("set preserve_insertion_order = false")
    try:
        check(conn, drop.source, mapping, options)
        drop_forgotten_rows(conn, drop.source)  # one `exists` probe unless someone was forgotten
        counts = _replace(conn, drop, staged, run_id=run_id)
    finally:
        conn.execute("reset preserve_insertion_order")
    if drop.source is EMPLOYEES:
        _store_attributes(conn, drop, staged, options.extra_columns)
    rows_read = staged.rows + len(staged.rejects)
    if rows_read == 0 and drop.source is EMPLOYEES:
        raise IngestError(f"{drop.relative}: no data rows (only a header); the roster cannot be empty")
    share = counts.rows_quarantined / rows_read if rows_read else 0.0
    if share > options.max_reject_share:
        raise _too_many_rejects(conn, drop, counts, rows_read, options.max_reject_share)
    conn.execute(
        RECORD_FILE,
        [drop.relative, drop.source.name, sha, rows_read, counts.rows_loaded, counts.rows_quarantined, utcnow(), run_id,
         stat.st_size, stat.st_mtime_ns],
    )
    counts.rows_read = rows_read
    log.info("%s: %d rows read, %d loaded, %d quarantined", drop.relative, rows_read, counts.rows_loaded,
             counts.rows_quarantined)
    return counts


def _connector_options(options: IngestOptions) -> Mapping[str, object]:
    """The drop folder's format options: today only the CSV delimiter of `[ingest]`."""
    return {"delimiter": options.csv_delimiter} if options.csv_delimiter else {}


def _too_many_rejects(
    conn: duckdb.DuckDBPyConnection, drop: DropFile, counts: FileReport, rows_read: int, limit: float
) -> IngestError:
    """The error that stops a file most of whose rows are bad: a wrong export, or a setting to change."""
    share = counts.rows_quarantined / rows_read
    top = ", ".join(f"{r} ({n})" for r, n in counts.reasons.most_common(3))
    first = fetch_one(conn, FIRST_REJECT)
    example = f" First at line {first[0]}: {first[1]}." if first else ""
    (commonest, _), = counts.reasons.most_common(1)
    hint = (
        " If the dates are valid but not ISO (YYYY-MM-DD), set [ingest] date_format, e.g. \"%d/%m/%Y\"."
        if commonest in unparsed_date_reasons(drop.source)
        else ""
    )
    return IngestError(
        f"{drop.relative}: {counts.rows_quarantined:,} of {rows_read:,} rows rejected ({share:.0%},"
        f" limit {limit:.0%}); most common: {top}.{example}{hint} Nothing was loaded;"
        " fix the file or raise [ingest] max_reject_share"
    )


def _empty_file(conn: duckdb.DuckDBPyConnection, drop: DropFile) -> FileReport:
    """A file with a header and no rows is most often a failed export: warn, and keep what an
    earlier version of it loaded (its hash is not recorded, so the next ingest reads it again)."""
    kept = int(fetch_value(conn, f"select count(*) from {drop.source.name} where _file = ?", [drop.relative]) or 0)
    if kept:
        what = f"kept the {kept:,} rows its previous version loaded"
    elif drop.source.required:
        what = f"the store has no {drop.source.name} rows from it"
    else:
        what = "nothing loaded"
    warning = f"{drop.relative}: no data rows (only a header); {what}. An empty export is usually a failed one"
    log.warning("%s", warning)
    return FileReport(drop.relative, drop.source.name, "empty", warning=warning)


def _store_attributes(
    conn: duckdb.DuckDBPyConnection, drop: DropFile, staged: Staged, names: tuple[str, ...]
) -> None:
    """Keep the extra HRIS columns HR asked for, for the people whose row loaded."""
    conn.execute("delete from employee_attributes")
    by_folded = {h.strip().lower(): h for h in staged.headers}
    missing = [n for n in names if n.strip().lower() not in by_folded]
    if missing:
        raise IngestError(
            f"{drop.relative}: line 1: [ingest] extra_columns names {', '.join(missing)}, which the file does not have"
        )
    for name in names:
        header = quote_ident(by_folded[name.strip().lower()])
        conn.execute(ATTRIBUTE_ROWS.format(header=header), [name, drop.relative])


def _replace(conn: duckdb.DuckDBPyConnection, drop: DropFile, staged: Staged, *, run_id: str) -> FileReport:
    """Swap the file's rows in: what it loaded before goes, its good rows load, its bad rows are quarantined."""
    table = drop.source.name
    cols = ", ".join(quote_ident(c.name) for c in drop.source.stored_columns)
    now = utcnow()
    if drop.source is EMPLOYEES:
        # One employees file is the whole roster: a new one (even renamed) replaces it all.
        conn.execute("delete from employees")
        conn.execute("delete from quarantine where source = 'employees'")
        conn.execute("delete from ingested_files where source = 'employees'")
    else:
        conn.execute(f"delete from {table} where _file = ?", [drop.relative])
        conn.execute("delete from quarantine where file = ?", [drop.relative])
    conn.execute(LOADED_ROWS.format(table=table, cols=cols), [drop.relative])
    conn.execute(QUARANTINED_ROWS, [run_id, table, drop.relative, now])
    if staged.rejects:
        conn.executemany(UNSTAGED_ROWS, [[run_id, table, drop.relative, line, reason, now] for line, reason in staged.rejects])
    loaded, bad = fetch_one(conn, CHECKED_COUNTS) or (0, 0)
    reasons: Counter[str] = Counter(dict(conn.execute(CHECKED_REASONS).fetchall()))
    reasons.update(reason for _, reason in staged.rejects)
    return FileReport(
        drop.relative,
        table,
        "loaded",
        rows_loaded=int(loaded),
        rows_quarantined=int(bad) + len(staged.rejects),
        reasons=reasons,
    )
