"""Ingest a drop folder into DuckDB: good rows load, bad rows go to quarantine.

The whole folder is one transaction, so a missing file or an unusable one
leaves the store exactly as it was. A file whose content hash is already
recorded is skipped; a changed file replaces the rows it loaded before. Free
text (recognition messages) is read only to be dropped.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from core.contract import (
    EMAIL_PATTERN,
    EMPLOYEES,
    FILE_FORMATS,
    SOURCES,
    Column,
    Kind,
    Source,
)
from core.db import ID_PATTERN, fetch_one, fetch_value, quote_ident, transaction, utcnow
from core.errors import IngestError
from pipelines.connectors.base import (
    STAGE,
    ExportFile,
    NeedsExactRead,
    Staged,
    drop_stage,
)
from pipelines.connectors.registry import stage_export
from pipelines.privacy import drop_forgotten_rows
from pipelines.settings import Settings

Progress = Callable[[str, int, int], None]  # (file, files done, files total)
log = logging.getLogger("retention.ingest")

# Quarantine reasons, one place, so reports and tests agree on the words.
MISSING = "missing {col}"
NOT_A_DATE = "{col} is not a date"
IMPOSSIBLE_DATE = "{col} is an impossible date"
NOT_A_NUMBER = "{col} is not a number"
NOT_WHOLE = "{col} is not a whole number"
OUT_OF_RANGE = "{col} is out of range"
NOT_ALLOWED = "{col} is not one of: {choices}"
NOT_EMAIL = "{col} is not an email address"
BAD_ID = "{col} is not a valid id"
UNKNOWN_MANAGER = "manager_id not found in employees"
UNKNOWN_EMPLOYEE = "{col} not found in employees"
EXIT_BEFORE_HIRE = "exit_date is before hire_date"
DUPLICATE = "duplicate of an earlier row ({key})"



@dataclass(frozen=True)
class IngestOptions:
    """What ingestion needs from settings, and nothing more."""

    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    date_format: str | None = None
    max_reject_share: float = 0.25
    csv_delimiter: str | None = None
    rating_min: float = 1.0
    rating_max: float = 5.0
    earliest_year: int = 1950
    extra_columns: tuple[str, ...] = ()
    today: date = field(default_factory=date.today)


@dataclass
class FileReport:
    path: str
    source: str
    status: str  # loaded | unchanged | empty
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    warning: str = ""


@dataclass
class IngestReport:
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def changed(self) -> bool:
        return any(f.status == "loaded" for f in self.files)

    @property
    def warnings(self) -> list[str]:
        return [f.warning for f in self.files if f.warning]


@dataclass(frozen=True)
class DropFile:
    source: Source
    path: Path
    relative: str


def ingest_options(settings: Settings) -> IngestOptions:
    """The [ingest] section as options: one place, for the CLI and the flow alike."""
    i = settings.ingest
    return IngestOptions(
        columns=i.columns,
        date_format=i.date_format,
        max_reject_share=i.max_reject_share,
        csv_delimiter=i.csv_delimiter,
        rating_min=i.rating_min,
        rating_max=i.rating_max,
        earliest_year=i.earliest_year,
        extra_columns=tuple(i.extra_columns),
    )


def discover(folder: Path, conn: duckdb.DuckDBPyConnection) -> tuple[list[DropFile], list[str]]:
    """Find each source's files: `<source>.<ext>` or `<source>/<any>.<ext>`."""
    if not folder.is_dir():
        raise IngestError(f"drop folder {folder} does not exist or is not a folder")
    found: list[DropFile] = []
    claimed: set[Path] = set()
    missing: list[str] = []
    for source in SOURCES:
        files = [folder / f"{source.name}{ext}" for ext in FILE_FORMATS if (folder / f"{source.name}{ext}").is_file()]
        sub = folder / source.name
        if sub.is_dir():
            files += sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in FILE_FORMATS)
        if source is EMPLOYEES and len(files) > 1:
            names = ", ".join(str(p.relative_to(folder)) for p in files)
            raise IngestError(f"{folder}: more than one employees file ({names}); keep exactly one")
        if not files and source.required and not _has_rows(conn, source.name):
            missing.append(source.name)
        for path in files:
            claimed.add(path.resolve())
            found.append(DropFile(source, path, path.relative_to(folder).as_posix()))
    if missing:
        wanted = ", ".join(f"{m}{{{','.join(FILE_FORMATS)}}}" for m in missing)
        raise IngestError(f"drop folder {folder} is missing required file(s): {wanted}")
    ignored = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.resolve() not in claimed
        and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )
    return found, ignored


def _has_rows(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(fetch_value(conn, f"select exists (select 1 from {table})"))


@dataclass(frozen=True)
class FileScan:
    sha256: str
    lines: int  # physical lines, a last line without a newline included


def scan_file(path: Path) -> FileScan:
    """The file's hash and line count, in one pass over its bytes."""
    digest = hashlib.sha256()
    count = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)  # releases the GIL: runs beside DuckDB's work on the previous file
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return FileScan(digest.hexdigest(), count + (0 if last == b"\n" else 1))


def ingest_folder(
    conn: duckdb.DuckDBPyConnection,
    folder: Path,
    options: IngestOptions,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Load every changed file of `folder`, all or nothing."""
    run_id = run_id or uuid.uuid4().hex
    exact: set[Path] = set()
    while True:
        try:
            return _ingest_once(conn, folder, options, run_id=run_id, progress=progress, exact=exact)
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
    progress: Progress | None,
    exact: set[Path],
) -> IngestReport:
    report = IngestReport(run_id=run_id)
    with transaction(conn), ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-scan") as pool:
        files, report.ignored = discover(folder, conn)
        # Changed files are hashed and their lines counted on a thread, ahead of DuckDB reading them.
        scans = {d.path: pool.submit(scan_file, d.path) for d in files if _changed(conn, d)}
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
    return report


def _changed(conn: duckdb.DuckDBPyConnection, drop: DropFile) -> bool:
    """False when size and modification time are those recorded when the file was loaded."""
    stat = drop.path.stat()
    previous = fetch_one(conn, "select size, mtime_ns from ingested_files where path = ?", [drop.relative])
    return previous is None or (previous[0], previous[1]) != (stat.st_size, stat.st_mtime_ns)


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
    previous = fetch_one(conn, "select sha256, size, mtime_ns from ingested_files where path = ?", [drop.relative])
    if scan is None or (previous and (previous[1], previous[2]) == (stat.st_size, stat.st_mtime_ns)):
        # Same size and modification time as when loaded: not read again (history grows, weekly cost must not).
        return FileReport(drop.relative, drop.source.name, "unchanged")
    scanned = scan.result()
    sha = scanned.sha256
    if previous and previous[0] == sha:
        conn.execute(
            "update ingested_files set size = ?, mtime_ns = ? where path = ?",
            [stat.st_size, stat.st_mtime_ns, drop.relative],
        )
        return FileReport(drop.relative, drop.source.name, "unchanged")
    export = ExportFile(drop.path, display=drop.relative, lines=scanned.lines, exact=exact)
    staged = stage_export(conn, drop.source, export, _connector_options(options))
    mapping = _map_headers(drop, staged, options.columns.get(drop.source.name, {}))
    if staged.rows + len(staged.rejects) == 0 and drop.source is not EMPLOYEES:
        return _empty_file(conn, drop)
    # Every checked row carries its line number, so from here on row order does not matter and
    # DuckDB may check and insert in parallel (15% faster at 100k). Staging keeps the order:
    # line numbers are joined to rows by position.
    conn.execute("set preserve_insertion_order = false")
    try:
        _check(conn, drop.source, mapping, options)
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
        top = ", ".join(f"{r} ({n})" for r, n in counts.reasons.most_common(3))
        first = fetch_one(conn, "select _line, _reason from _checked where _reason is not null order by _line limit 1")
        example = f" First at line {first[0]}: {first[1]}." if first else ""
        (commonest, _), = counts.reasons.most_common(1)
        hint = (
            " If the dates are valid but not ISO (YYYY-MM-DD), set [ingest] date_format, e.g. \"%d/%m/%Y\"."
            if commonest.endswith("is not a date")
            else ""
        )
        raise IngestError(
            f"{drop.relative}: {counts.rows_quarantined:,} of {rows_read:,} rows rejected ({share:.0%},"
            f" limit {options.max_reject_share:.0%}); most common: {top}.{example}{hint} Nothing was loaded;"
            " fix the file or raise [ingest] max_reject_share"
        )
    conn.execute(
        "insert or replace into ingested_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        conn.execute(
            "insert into employee_attributes select c.employee_id, ?, nullif(trim(s."
            + header
            + "), ''), ? from _checked c join "
            + STAGE
            + " s using (_line) where c._reason is null",
            [name, drop.relative],
        )


def _map_headers(drop: DropFile, staged: Staged, configured: Mapping[str, str]) -> dict[str, str]:
    """Our column -> the staged header holding it (case and space insensitive)."""
    by_folded = {h.strip().lower(): h for h in staged.headers}
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for col in drop.source.columns:
        wanted = configured.get(col.name, col.name)
        header = by_folded.get(wanted.strip().lower())
        if header is not None:
            mapping[col.name] = header
        elif col.required:
            missing.append(col.name if wanted == col.name else f"{col.name} (mapped to {wanted!r})")
    if missing:
        raise IngestError(
            f"{drop.relative}: line 1: missing required column(s) {', '.join(missing)}; {_describe_headers(staged.headers)}."
            f" Map your headers in [ingest.columns.{drop.source.name}] of retention.toml"
        )
    return mapping


_HEADER_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9 _.()#/-]{0,63}$")


def _describe_headers(headers: list[str]) -> str:
    """Echo the headers only when they look like headers: a file without a header row
    would otherwise put its first person's data into an error message."""
    if headers and all(_HEADER_LIKE.match(h.strip()) for h in headers):
        return "found columns: " + ", ".join(h.strip() for h in headers[:30])
    return "the first line does not look like a header row (is it missing?)"


def _text(mapping: Mapping[str, str], col: Column) -> str:
    if col.name not in mapping:
        return "cast(null as varchar)"
    raw = quote_ident(mapping[col.name])
    # trim() copies every string; most values have no surrounding spaces, so test first (2x faster).
    return f"nullif(case when starts_with({raw}, ' ') or ends_with({raw}, ' ') then trim({raw}) else {raw} end, '')"


def _date_expr(raw: str, kind: Kind, has_format: bool) -> str:
    target = "date" if kind is Kind.DATE else "timestamp"
    parsed = f"try_cast({raw} as {target})"
    if has_format:
        parsed = f"coalesce({parsed}, cast(try_strptime({raw}, $date_format) as {target}))"
    return parsed


def _check(
    conn: duckdb.DuckDBPyConnection, source: Source, mapping: Mapping[str, str], options: IngestOptions
) -> None:
    """Build `_checked`: typed columns plus the first reason (if any) each row is bad."""
    has_format = options.date_format is not None
    raws: list[str] = []  # each column's trimmed text, once
    parses: list[str] = []  # each date or number column parsed, once
    typed: list[str] = []
    checks: list[tuple[str, str, str]] = []  # (condition, reason, column)
    raw_of: dict[str, str] = {}
    for i, col in enumerate(source.columns):
        raw = f"_r{i}"
        raws.append(f"{_text(mapping, col)} as {raw}")
        raw_of[col.name] = raw
        name = quote_ident(col.name)
        if col.required and not col.allow_empty:
            checks.append((f"{raw} is null", MISSING.format(col=col.name), col.name))
        if col.kind in (Kind.DATE, Kind.TIMESTAMP):
            parsed = f"_p{i}"
            parses.append(f"{_date_expr(raw, col.kind, has_format)} as {parsed}")
            typed.append(f"{parsed} as {name}")
            checks.append((f"{raw} is not null and {parsed} is null", NOT_A_DATE.format(col=col.name), col.name))
            latest = "$latest_plan" if source is EMPLOYEES else "$latest_event"
            checks.append(
                (
                    f"{parsed} is not null and (cast({parsed} as date) < $earliest or cast({parsed} as date) > {latest})",
                    IMPOSSIBLE_DATE.format(col=col.name),
                    col.name,
                )
            )
        elif col.kind in (Kind.NUMBER, Kind.INTEGER):
            parsed = f"_p{i}"
            parses.append(f"try_cast({raw} as double) as {parsed}")
            checks.append((f"{raw} is not null and ({parsed} is null or isnan({parsed}) or isinf({parsed}))",
                           NOT_A_NUMBER.format(col=col.name), col.name))
            if col.kind is Kind.INTEGER:
                checks.append((f"{parsed} is not null and {parsed} <> round({parsed})", NOT_WHOLE.format(col=col.name), col.name))
                typed.append(f"cast({parsed} as integer) as {name}")
            else:
                typed.append(f"{parsed} as {name}")
            low, high = col.minimum, col.maximum
            if col.name == "rating":
                low, high = options.rating_min, options.rating_max
            if low is not None:
                checks.append((f"{parsed} < {float(low)!r}", OUT_OF_RANGE.format(col=col.name), col.name))
            if high is not None:
                checks.append((f"{parsed} > {float(high)!r}", OUT_OF_RANGE.format(col=col.name), col.name))
        elif col.kind is Kind.ENUM:
            values = ", ".join("'" + c + "'" for c in col.choices)
            typed.append(f"lower({raw}) as {name}")
            checks.append(
                (f"{raw} is not null and lower({raw}) not in ({values})",
                 NOT_ALLOWED.format(col=col.name, choices=", ".join(col.choices)), col.name)
            )
        elif col.kind is Kind.EMAIL:
            typed.append(f"{raw} as {name}")
            checks.append((f"{raw} is not null and not regexp_matches({raw}, $email_pattern)",
                           NOT_EMAIL.format(col=col.name), col.name))
        elif col.kind is Kind.ID:
            typed.append(f"{raw} as {name}")
            checks.append((f"{raw} is not null and not regexp_matches({raw}, $id_pattern)",
                           BAD_ID.format(col=col.name), col.name))
        elif col.kind is Kind.TOPICS:
            typed.append(
                f"list_filter(list_transform(regexp_split_to_array(coalesce(lower({raw}), ''), '[;|,]'),"
                f" lambda t: trim(t)), lambda t: t <> '') as {name}"
            )
        elif not col.stored:
            typed.append(f"cast(null as varchar) as {name}")  # free text: never copied past staging
        else:
            typed.append(f"{raw} as {name}")
    # One pass: the first failing value check as a number, then the relational checks
    # on the typed columns (a later UPDATE per rule would rewrite the table each time).
    # Every check evaluated as a list, the first true one wins: much faster in DuckDB than a long CASE.
    first_bad = "nullif(list_position([" + ", ".join(f"({c})" for c, _, _ in checks) + "], true), 0)"
    bad_value = "case _bad " + " ".join(
        f"when {i} then " + ("null" if source.column(n).sensitive else raw_of[n])
        for i, (_, _, n) in enumerate(checks, start=1)
    ) + " end"
    rules = _relational_rules(source)
    reasons = [r for _, r, _ in checks] + [r for _, r, _, _ in rules]
    columns = [n for _, _, n in checks] + [n for _, _, n, _ in rules]
    codes = {rule: len(checks) + i for i, rule in enumerate(rules, start=1)}
    pre = [(cond, codes[rule]) for rule in rules if (cond := rule[0]) and rule[1] == EXIT_BEFORE_HIRE]
    post = [(rule[0], codes[rule]) for rule in rules if rule[1] != EXIT_BEFORE_HIRE and not rule[1].startswith("duplicate")]
    dup_code = next(codes[rule] for rule in rules if rule[1].startswith("duplicate"))
    pre_code = "coalesce(_bad" + "".join(f", case when {c} then {k} end" for c, k in pre) + ")"
    key = ", ".join(quote_ident(k) for k in source.key)
    code = (
        f"coalesce(_pre, case when _line in (select _line from dups) then {dup_code} end"
        + "".join(f", case when {c} then {k} end" for c, k in post)
        + ")"
    )
    value = "case " + " ".join(
        [f"when _code = {k} then {rule[3]}" for rule, k in codes.items()] + ["when _code = _bad then _bad_value"]
    ) + " end"
    names = ", ".join(quote_ident(c.name) for c in source.columns)
    params: dict[str, object] = {
        "earliest": date(options.earliest_year, 1, 1),
        "latest_event": options.today + timedelta(days=1),
        "latest_plan": options.today + timedelta(days=366),
        "email_pattern": EMAIL_PATTERN,
        "id_pattern": ID_PATTERN,
        "reasons": reasons,
        "columns": columns,
    }
    if has_format:
        params["date_format"] = options.date_format
    sql = (
        f"create or replace temp table _checked as with"
        f" raws as (select _line, {', '.join(raws)} from {STAGE}),"
        f" parsed as (select *{''.join(', ' + p for p in parses)} from raws),"
        f" checked as (select *, {first_bad} as _bad from parsed),"
        f" typed as (select _line, {', '.join(typed)}, _bad, left({bad_value}, 200) as _bad_value from checked),"
        f" pre as materialized (select *, {pre_code} as _pre from typed),"
        # Duplicates among the rows still good, found on a narrow projection (sorting wide rows is slow).
        f" dups as (select _line from (select _line, row_number() over (partition by {key} order by _line) as n"
        " from pre where _pre is null) where n > 1),"
        f" coded as (select *, {code} as _code from pre)"
        f" select _line, {names}, $reasons[_code] as _reason, $columns[_code] as _column, left({value}, 200) as _value"
        " from coded"
    )
    # DuckDB refuses named parameters the statement does not use.
    conn.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def _relational_rules(source: Source) -> list[tuple[str, str, str, str]]:
    """(condition on typed columns, reason, column, quarantined value) for cross-field, key and reference rules.

    Order matters: exit-before-hire, then duplicates (among rows still good), then references.
    """
    rules: list[tuple[str, str, str, str]] = []
    if source is EMPLOYEES:
        rules.append(("exit_date < hire_date", EXIT_BEFORE_HIRE, "exit_date", "cast(exit_date as varchar)"))
    rules.append(("", DUPLICATE.format(key=", ".join(source.key)), source.key[0], "null"))
    if source is EMPLOYEES:
        rules.append((
            "manager_id <> employee_id and manager_id not in (select employee_id from typed where employee_id is not null)",
            UNKNOWN_MANAGER, "manager_id", "manager_id",
        ))
        return rules
    for col in source.columns:
        if col.references_employee:
            name = quote_ident(col.name)
            rules.append((
                f"{name} not in (select employee_id from employees)",
                UNKNOWN_EMPLOYEE.format(col=col.name), col.name, name,
            ))
    return rules


def _replace(conn: duckdb.DuckDBPyConnection, drop: DropFile, staged: Staged, *, run_id: str) -> FileReport:
    table = drop.source.name
    stored = [c.name for c in drop.source.stored_columns]
    cols = ", ".join(quote_ident(c) for c in stored)
    now = utcnow()
    if drop.source is EMPLOYEES:
        # One employees file is the whole roster: a new one (even renamed) replaces it all.
        conn.execute("delete from employees")
        conn.execute("delete from quarantine where source = 'employees'")
        conn.execute("delete from ingested_files where source = 'employees'")
    else:
        conn.execute(f"delete from {table} where _file = ?", [drop.relative])
        conn.execute("delete from quarantine where file = ?", [drop.relative])
    conn.execute(
        f"insert into {table} ({cols}, _file, _line) select {cols}, ?, _line from _checked where _reason is null",
        [drop.relative],
    )
    conn.execute(
        "insert into quarantine select ?, ?, ?, _line, _column, _reason, _value, ? from _checked where _reason is not null",
        [run_id, table, drop.relative, now],
    )
    if staged.rejects:
        conn.executemany(
            "insert into quarantine values (?, ?, ?, ?, null, ?, null, ?)",
            [[run_id, table, drop.relative, line, reason, now] for line, reason in staged.rejects],
        )
    loaded, bad = fetch_one(
        conn, "select count(*) filter (where _reason is null), count(*) filter (where _reason is not null) from _checked"
    ) or (0, 0)
    reasons: Counter[str] = Counter(
        dict(conn.execute("select _reason, count(*) from _checked where _reason is not null group by 1").fetchall())
    )
    reasons.update(reason for _, reason in staged.rejects)
    return FileReport(
        drop.relative,
        table,
        "loaded",
        rows_loaded=int(loaded),
        rows_quarantined=int(bad) + len(staged.rejects),
        reasons=reasons,
    )
