"""Privacy and data rights: opt-out, explain, forget, and the retention purge.

- **Opt-out** (`opt_out` table, fed by `[privacy] opt_out_file` and `retention opt-out`):
  the weekly run drops these people right after computing features, so they are never
  scored, selected or named in a digest; training leaves them out too. A person who
  opted out and manages people still receives their reports' digests: opting out is
  about being scored, not about managing.
- **Explain**: one person's page for HR: what the store holds (sources, row counts, date
  range), their features and score drivers for the latest week, every nudge and decision
  about them, never another person's id, name or answers. Survey-derived values are
  listed as held but never shown per person. Each call writes an `audit` row.
- **Forget**: deletes every row about the person in every table with a person-id column
  (found in the schema at run time), redacts stored digests that name them (counts kept),
  records a keyed hash in `forgotten` so later drop files cannot bring them back, and an
  audit row with counts only. `compact_store` then rewrites the DuckDB file so deleted
  bytes do not linger in free pages.
- **Retention**: `purge_old_events` deletes events older than `[retention] keep_days`.

Functions take a DuckDB connection and plain values; `apply_data_rules` is the one edge
that reads settings. Log lines carry counts only: never an id, a name or an address.
"""

from __future__ import annotations

import csv
import html
import json
import logging
import math
import os
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from core.contract import SOURCES, Kind, Source
from core.db import ID_RE, fetch_one, fetch_value, quote_ident, transaction, utcnow
from core.errors import ConfigError, PrivacyError
from models.features import Features, compute_features
from pipelines.weeks import IsoWeek

if TYPE_CHECKING:
    from models.score import Scores
    from pipelines.settings import Settings

log = logging.getLogger("retention.privacy")

# Columns that hold a person's employee id, in any table, now or added by a later migration.
PERSON_COLUMNS: tuple[str, ...] = ("employee_id", "manager_id", "recipient_id", "giver_id")
# Where the person is the other party of someone else's record, the record stays without them:
# their reports move to the skip-level manager, recognition they gave keeps no giver.
# Every other row with their id in a person column is deleted.
KEEP_ROW: dict[tuple[str, str], str] = {("employees", "manager_id"): "skip_level", ("recognition", "giver_id"): "null"}
# Features computed from autonomy_survey answers: held, never shown per person (not even to HR).
SURVEY_FEATURES = frozenset({"autonomy_latest", "autonomy_change", "voice_latest", "voice_change", "growth_latest"})
SURVEY_DRIVERS = frozenset({"autonomy", "voice", "growth"})
# Feature columns that identify rather than describe.
_NOT_FEATURES = frozenset({"employee_id", "manager_id", "as_of"})


def check_id(employee_id: str) -> str:
    value = employee_id.strip()
    if not ID_RE.match(value):
        raise PrivacyError("an employee id must be 1 to 128 characters with no control characters")
    return value


# --- the store's secret and forgotten keys ---------------------------------------------------


def store_secret(conn: duckdb.DuckDBPyConnection) -> str:
    """The store's random secret (made on first use); forgotten keys are keyed with it."""
    secret = fetch_value(conn, "select secret from store_secret")
    if secret is None:
        conn.execute("insert into store_secret values (1, ?) on conflict do nothing", [secrets.token_hex(32)])
        secret = fetch_value(conn, "select secret from store_secret")
    return str(secret)


def forgotten_key(conn: duckdb.DuckDBPyConnection, employee_id: str) -> str:
    """sha256(secret || id), computed the way the ingest check computes it (in DuckDB)."""
    return str(fetch_value(conn, "select sha256(? || ?)", [store_secret(conn), employee_id]))


def _any_forgotten(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(fetch_value(conn, "select exists (select 1 from forgotten)"))


def drop_forgotten_rows(conn: duckdb.DuckDBPyConnection, source: Source) -> int:
    """Remove forgotten people from ingest's `_checked` rows before they load or are quarantined.

    Costs one `exists` probe while nobody has been forgotten. Their own rows go; their reports
    in an employees file move to the forgotten person's manager in that file; recognition they
    gave keeps no giver; rows naming them as another party (a 1:1 they held) go.
    """
    if not _any_forgotten(conn):
        return 0
    columns = [c.name for c in source.columns if c.kind is Kind.ID and c.stored]
    values = " union ".join(f'select "{c}" as v from _checked where "{c}" is not null' for c in columns)
    conn.execute(
        f"create or replace temp table _forgotten_ids as select v as employee_id from ({values})"
        " where sha256($secret || v) in (select key from forgotten)",
        {"secret": store_secret(conn)},
    )
    try:
        if not fetch_value(conn, "select count(*) from _forgotten_ids"):
            return 0
        before = int(fetch_value(conn, "select count(*) from _checked") or 0)
        if source.name == "employees":
            for _ in range(16):  # a chain of forgotten managers, bounded
                moved = fetch_value(
                    conn,
                    "update _checked c set manager_id = (select f.manager_id from _checked f"
                    " where f.employee_id = c.manager_id and f.employee_id <> coalesce(f.manager_id, '') limit 1)"
                    " where c.manager_id in (select employee_id from _forgotten_ids)",
                )
                if not moved:
                    break
            conn.execute("update _checked set manager_id = null where manager_id in (select employee_id from _forgotten_ids)")
        for column in columns:
            rule = KEEP_ROW.get((source.name, column))
            if rule == "null":
                conn.execute(f'update _checked set "{column}" = null where "{column}" in (select employee_id from _forgotten_ids)')
            elif rule is None:
                conn.execute(f'delete from _checked where "{column}" in (select employee_id from _forgotten_ids)')
        dropped = before - int(fetch_value(conn, "select count(*) from _checked") or 0)
    finally:
        conn.execute("drop table if exists _forgotten_ids")
    if dropped:
        log.info("%s: %d rows about forgotten people dropped", source.name, dropped)
    return dropped


# --- opt-out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptOutFile:
    ids: list[str]
    bad: list[tuple[int, str]]  # (line, reason): never the value, which could be anything


def read_opt_out_file(path: Path) -> OptOutFile:
    """A CSV with an `employee_id` header, or one id per line (blank lines and # comments skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"[privacy] opt_out_file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    header = [h.strip().lower() for h in next(csv.reader([lines[first]]))] if first is not None else []
    ids: list[str] = []
    bad: list[tuple[int, str]] = []
    if "employee_id" in header:
        assert first is not None
        column = header.index("employee_id")
        for offset, row in enumerate(csv.reader(lines[first + 1 :]), start=first + 2):
            if not row or (len(row) == 1 and not row[0].strip()):  # a blank line
                continue
            value = row[column].strip() if column < len(row) else ""
            if not value:
                bad.append((offset, "no employee_id value"))
            else:
                _take_id(value, offset, ids, bad)
        return OptOutFile(ids, bad)
    for number, line in enumerate(lines, start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        if "," in value or "\t" in value:
            bad.append((number, "more than one value on the line (a CSV needs an employee_id header)"))
        else:
            _take_id(value, number, ids, bad)
    return OptOutFile(ids, bad)


def _take_id(value: str, line: int, ids: list[str], bad: list[tuple[int, str]]) -> None:
    """One opt-out id, kept when valid, else its line and why (the same rule for CSV and plain text)."""
    if ID_RE.match(value):
        ids.append(value)
    else:
        bad.append((line, "not a valid id (1 to 128 characters, no control characters)"))


@dataclass(frozen=True)
class OptOutSync:
    listed: int
    added: int
    removed: int


def sync_opt_out_file(conn: duckdb.DuckDBPyConnection, path: Path | None) -> OptOutSync | None:
    """Make the file's entries in `opt_out` match the file (CLI entries stay); None without a file.

    A bad line stops with the file and line, after the good ids are applied: an opt-out
    must never wait for someone else's typo.
    """
    if path is None:
        return None
    parsed = read_opt_out_file(path)
    wanted = sorted(set(parsed.ids) - _forgotten_among(conn, parsed.ids))
    with transaction(conn):
        conn.register("_opt_out_file", pa.table({"employee_id": pa.array(wanted, type=pa.string())}))
        try:
            removed = fetch_value(
                conn,
                "delete from opt_out where source = 'file' and employee_id not in (select employee_id from _opt_out_file)",
            )
            added = fetch_value(
                conn,
                "insert into opt_out select employee_id, ?, 'file' from _opt_out_file on conflict do nothing",
                [utcnow()],
            )
        finally:
            conn.unregister("_opt_out_file")
        result = OptOutSync(len(wanted), int(added or 0), int(removed or 0))
        if result.added or result.removed:
            _audit(conn, "file", "opt_out_sync", {"added": result.added, "removed": result.removed})
    log.info("opt-out file: %d listed, %d added, %d removed", result.listed, result.added, result.removed)
    if parsed.bad:
        line, reason = parsed.bad[0]
        more = f" (and {len(parsed.bad) - 1} more bad lines)" if len(parsed.bad) > 1 else ""
        raise ConfigError(
            f"{path}: line {line}: {reason}{more}; the file's {len(wanted)} good ids were applied."
            " Fix the line and run again"
        )
    return result


def _forgotten_among(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> set[str]:
    ids = list(ids)
    if not ids or not _any_forgotten(conn):
        return set()
    rows = conn.execute(
        "select v from unnest(?) t(v) where sha256(? || v) in (select key from forgotten)", [ids, store_secret(conn)]
    ).fetchall()
    return {r[0] for r in rows}


def opted_out_ids(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in conn.execute("select employee_id from opt_out").fetchall()}


def add_opt_outs(conn: duckdb.DuckDBPyConnection, ids: Sequence[str], *, actor: str, force: bool = False) -> int:
    """Opt these people out (recorded as added from the CLI); returns how many were new.

    An id the roster does not hold is most likely a typo, so the whole call is refused unless
    `force` (someone known only to a roster file still to come).
    """
    ids = [check_id(i) for i in ids]
    unknown = [] if force else sorted(set(ids) - _on_roster(conn, ids) - _forgotten_among(conn, ids))
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise PrivacyError(
            f"not on the roster: {shown} (ids are case-sensitive); nobody was opted out. Check the ids, or pass"
            " --force to opt out someone known only to a roster file still to come"
        )
    added = 0
    with transaction(conn):
        for employee_id in dict.fromkeys(ids):
            if _forgotten_among(conn, [employee_id]):
                continue  # forgetting already keeps them out of everything, and their id is not kept
            new = fetch_value(
                conn, "insert into opt_out values (?, ?, 'cli') on conflict do nothing", [employee_id, utcnow()]
            )
            if new:
                added += 1
                _audit(conn, actor, "opt_out_add", {"employee_id": employee_id})
    log.info("opt-out: %d added", added)
    return added


def _on_roster(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> set[str]:
    rows = conn.execute("select employee_id from employees where list_contains(?, employee_id)", [list(ids)]).fetchall()
    return {r[0] for r in rows}


def remove_opt_outs(conn: duckdb.DuckDBPyConnection, ids: Sequence[str], *, actor: str) -> int:
    """Opt these people back in; an id still in the opt-out file comes back at the next sync."""
    ids = [check_id(i) for i in ids]
    removed = 0
    with transaction(conn):
        for employee_id in dict.fromkeys(ids):
            gone = fetch_value(conn, "delete from opt_out where employee_id = ?", [employee_id])
            if gone:
                removed += 1
                _audit(conn, actor, "opt_out_remove", {"employee_id": employee_id})
    log.info("opt-out: %d removed", removed)
    return removed


def list_opt_outs(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, datetime]]:
    """(employee id, source, added at) for everyone opted out, by id."""
    return [(str(e), str(s), a) for e, s, a in conn.execute(
        "select employee_id, source, added_at from opt_out order by employee_id"
    ).fetchall()]


def without_opted_out(conn: duckdb.DuckDBPyConnection, features: Features) -> Features:
    """The week's features minus everyone who opted out: they are never scored or selected."""
    excluded = opted_out_ids(conn)
    if not excluded or not len(features):
        return features
    keep = ~pd.Index(features["employee_id"]).isin(list(excluded))
    if keep.all():
        return features
    log.info("opt-out: %d people left out of the week", int((~keep).sum()))
    return Features(as_of=features.as_of, columns={k: v[keep] for k, v in features.columns.items()})


# --- audit -----------------------------------------------------------------------------------


def _audit(conn: duckdb.DuckDBPyConnection, actor: str, action: str, detail: dict[str, Any]) -> None:
    conn.execute("insert into audit values (?, ?, ?, ?)", [utcnow(), actor, action, json.dumps(detail, sort_keys=True)])


# --- retention -------------------------------------------------------------------------------


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


# --- schema discovery ------------------------------------------------------------------------


def person_columns(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(table, column) for every text column of a stored table named like a person id."""
    rows = conn.execute(
        """
        select c.table_name, c.column_name
        from information_schema.columns c
        join information_schema.tables t
          on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_catalog = current_database() and c.table_schema = 'main' and t.table_type = 'BASE TABLE'
          and c.data_type = 'VARCHAR' and list_contains(?, c.column_name)
        order by 1, 2
        """,
        [list(PERSON_COLUMNS)],
    ).fetchall()
    return [(str(t), str(c)) for t, c in rows]


def is_known(conn: duckdb.DuckDBPyConnection, employee_id: str) -> bool:
    """Whether any table with a person-id column (the roster included) names this id."""
    return any(
        fetch_value(conn, f"select exists (select 1 from {quote_ident(t)} where {quote_ident(c)} = ?)", [employee_id])
        for t, c in person_columns(conn)
    )


# --- forget ----------------------------------------------------------------------------------

PLACEHOLDER_TEXT = (
    "This digest named a person whose data was erased at their request, so its content was removed.\n"
    "It held {n} nudge(s).\n"
)


def placeholder_message(week: str, nudge_count: int) -> tuple[bytes, str]:
    """A short stand-in for a redacted digest: the message bytes and the HTML preview."""
    text = PLACEHOLDER_TEXT.format(n=nudge_count)
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = f"Digest for {week} withdrawn"
    message.set_content(text)
    page = (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Digest withdrawn</title></head>"
        f"<body><p>{html.escape(text.strip())}</p></body></html>\n"
    )
    return message.as_bytes(), page


@dataclass
class ForgetReport:
    """Counts only: safe to print, log and store in the audit table."""

    on_roster: bool = False
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    reports_moved: int = 0  # people whose manager they were, now under the skip-level manager
    to_top: bool = False  # they had no manager above them, so their reports now have none
    recognition_kept: int = 0  # recognition they gave, kept for the recipient without a giver
    digests_redacted: int = 0  # other managers' digests that named them, now placeholders
    nudges_in_redacted: int = 0
    audit_scrubbed: int = 0  # earlier audit rows naming them (explain, opt-out), scrubbed
    files_deleted: int = 0
    files_redacted: int = 0

    @property
    def rows_deleted(self) -> int:
        return sum(self.deleted.values())

    def counts(self) -> dict[str, Any]:
        return {
            "on_roster": self.on_roster,
            "deleted": dict(sorted(self.deleted.items())),
            "reports_moved": self.reports_moved,
            "recognition_kept": self.recognition_kept,
            "digests_redacted": self.digests_redacted,
            "nudges_in_redacted": self.nudges_in_redacted,
            "audit_scrubbed": self.audit_scrubbed,
            "files_deleted": self.files_deleted,
            "files_redacted": self.files_redacted,
        }


def forget(
    conn: duckdb.DuckDBPyConnection,
    employee_id: str,
    outbox_dir: Path,
    *,
    actor: str,
    dry_run: bool = False,
    force: bool = False,
) -> ForgetReport:
    """Erase everything about one person, in one transaction; then their outbox files.

    `dry_run` does the same work and rolls it back: the counts are what a real run would do.
    An id the store holds nothing about is refused (a typo would otherwise be kept out of every
    later file for good) unless `force`: someone known only to a file still to come.
    Afterwards, `compact_store(path)` (with the store closed) rewrites the file so that the
    deleted bytes are gone from it too.
    """
    employee_id = check_id(employee_id)
    if not force and not is_known(conn, employee_id):
        if _forgotten_among(conn, [employee_id]):
            raise PrivacyError(f"employee id {employee_id!r} was forgotten already: the store holds nothing about them")
        raise PrivacyError(
            f"the store holds nothing about employee id {employee_id!r}: check the id (ids are case-sensitive)."
            " To keep someone known only to a drop file still to come out of the store, pass --force"
        )
    report = ForgetReport()
    outbox_dir = Path(outbox_dir)
    conn.execute("begin transaction")
    try:
        person = fetch_one(conn, "select email, name, manager_id from employees where employee_id = ?", [employee_id])
        email, name, manager = person or (None, None, None)
        report.on_roster = person is not None
        needles = [s for s in (employee_id, email, name) if s]
        delete_files, redact_files = _forget_digests(conn, employee_id, needles, outbox_dir, report)
        _forget_rows(conn, employee_id, manager, report)
        report.deleted["quarantine"] = report.deleted.get("quarantine", 0) + int(
            fetch_value(conn, "delete from quarantine where list_contains(?, value)", [needles]) or 0
        )
        report.audit_scrubbed = int(
            fetch_value(
                conn,
                "update audit set detail = ? where json_extract_string(detail, '$.employee_id') = ?",
                [json.dumps({"employee_id": None, "subject": "forgotten"}), employee_id],
            )
            or 0
        )
        report.deleted = {t: n for t, n in report.deleted.items() if n}
        report.files_deleted = len(delete_files)
        report.files_redacted = len(redact_files)
        conn.execute(
            "insert into forgotten values (?, ?) on conflict do nothing", [forgotten_key(conn, employee_id), utcnow()]
        )
        _audit(conn, actor, "forget", report.counts())
    except BaseException:
        conn.execute("rollback")
        raise
    if dry_run:
        conn.execute("rollback")
        return report
    conn.execute("commit")
    _apply_files(delete_files, redact_files, outbox_dir)
    # Deleted rows must not wait in the write-ahead log; `compact_store` clears the file's free pages.
    conn.execute("checkpoint")
    log.info("forget: %d rows deleted, %d digests redacted, %d files removed", report.rows_deleted,
             report.digests_redacted, report.files_deleted)
    return report


def _forget_digests(
    conn: duckdb.DuckDBPyConnection, employee_id: str, needles: list[str], outbox_dir: Path, report: ForgetReport
) -> tuple[list[Path], dict[Path, bytes]]:
    """Redact other managers' digests that name the person; list the files to delete or rewrite.

    Their own digests (as recipient) go with the generic delete of rows naming them.
    """
    # The outbox's own file naming, so the files found are the ones it wrote.
    from nudges.delivery.outbox import safe_filename

    own = [w for (w,) in conn.execute("select week from outbox where manager_id = ?", [employee_id]).fetchall()]
    delete_files = [
        p for week in own for p in (outbox_dir / week / f"{safe_filename(employee_id)}{ext}" for ext in (".eml", ".html"))
        if p.is_file()
    ]
    candidates = conn.execute(
        """
        select o.week, o.manager_id, o.nudge_count, o.html, try(decode(o.message)),
               exists (select 1 from nudges n where n.week = o.week and n.manager_id = o.manager_id and n.employee_id = $id)
        from outbox o
        where o.manager_id <> $id
          and (exists (select 1 from nudges n where n.week = o.week and n.manager_id = o.manager_id and n.employee_id = $id)
               or list_bool_or(list_transform($needles, lambda x: contains(o.html, x) or contains(coalesce(try(decode(o.message)), ''), x))))
        """,
        {"id": employee_id, "needles": needles + [html.escape(n, quote=True) for n in needles]},
    ).fetchall()
    pattern = _mention_pattern(needles)
    redact: list[tuple[str, str, int]] = [
        (week, manager_id, int(count))
        for week, manager_id, count, page, message, nudged in candidates
        if nudged or pattern.search(page or "") or pattern.search(message or "")
    ]
    redact_files: dict[Path, bytes] = {}
    for week, manager_id, count in redact:
        message, page = placeholder_message(week, count)
        conn.execute(
            "update outbox set message = ?, html = ?, last_error = null,"
            " state = case when state in ('sent', 'written') then state else 'withdrawn' end where week = ? and manager_id = ?",
            [message, page, week, manager_id],
        )
        name = safe_filename(manager_id)
        for ext, data in ((".eml", message), (".html", page.encode("utf-8"))):
            path = outbox_dir / week / f"{name}{ext}"
            if path.is_file():
                redact_files[path] = data
        report.nudges_in_redacted += count
    report.digests_redacted = len(redact)
    return delete_files, redact_files


def _mention_pattern(needles: list[str]) -> re.Pattern[str]:
    """A needle as a whole word (an id "12" is not a mention inside "2012"), raw or HTML-escaped."""
    forms = sorted({form for n in needles for form in (n, html.escape(n, quote=True))}, key=len, reverse=True)
    return re.compile("|".join(rf"(?<![A-Za-z0-9]){re.escape(f)}(?![A-Za-z0-9])" for f in forms))


def _forget_rows(
    conn: duckdb.DuckDBPyConnection, employee_id: str, manager: str | None, report: ForgetReport
) -> None:
    """Every table with a person-id column, as the schema has it now (later migrations included)."""
    skip_level = manager if manager and manager != employee_id else None
    report.to_top = skip_level is None
    for table, column in person_columns(conn):
        rule = KEEP_ROW.get((table, column))
        t, c = quote_ident(table), quote_ident(column)
        if rule == "skip_level":
            report.reports_moved += int(
                fetch_value(
                    conn,
                    f"update {t} set {c} = ? where {c} = ? and employee_id <> ?",
                    [skip_level, employee_id, employee_id],
                )
                or 0
            )
        elif rule == "null":
            report.recognition_kept += int(
                fetch_value(conn, f"update {t} set {c} = null where {c} = ?", [employee_id]) or 0
            )
        else:
            n = int(fetch_value(conn, f"delete from {t} where {c} = ?", [employee_id]) or 0)
            report.deleted[table] = report.deleted.get(table, 0) + n


def _apply_files(delete: list[Path], redact: dict[Path, bytes], outbox_dir: Path) -> None:
    from core.files import atomic_write

    failed: list[str] = []
    for path in delete:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            failed.append(f"{path.name}: {exc.strerror}")
    for path, data in redact.items():
        try:
            atomic_write(path, data)
        except OSError as exc:
            failed.append(f"{path.name}: {exc.strerror}")
    if failed:
        raise PrivacyError(
            f"the store forgot the person, but {len(failed)} file(s) under {outbox_dir} could not be removed or"
            f" rewritten ({'; '.join(failed[:3])}); fix the permissions and delete them by hand"
        )


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


# --- explain ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """Rows about the person in one table: as its subject (with the date range) or another role."""

    table: str
    role: str
    rows: int
    first: date | None = None
    last: date | None = None


@dataclass(frozen=True)
class Value:
    name: str
    value: str | None  # None: held but withheld
    note: str = ""


@dataclass(frozen=True)
class NudgeAbout:
    week: str
    kind: str
    via: str  # "their manager" | "skip-level manager": never who
    delivery: str  # the digest's state, or "withdrawn"


@dataclass(frozen=True)
class DecisionAbout:
    week: str
    outcome: str
    reason: str
    kind: str | None
    via: str


@dataclass
class Explanation:
    employee_id: str
    generated_at: datetime
    opted_out: bool = False
    profile: list[Value] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    week: str | None = None
    score_method: str | None = None
    score_note: str = ""
    risk: float | None = None
    features: list[Value] = field(default_factory=list)
    drivers: list[Value] = field(default_factory=list)
    nudges: list[NudgeAbout] = field(default_factory=list)
    decisions: list[DecisionAbout] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExplainOptions:
    actor: str
    # The week to compute features and score for; None: the latest week with a completed run,
    # else the current week.
    week: IsoWeek | None = None
    # How a week is scored (`pipelines.weekly.score_stage` under the current settings); None: no score.
    score: Callable[[Features], Scores] | None = None


_PROFILE = ("name", "email", "hire_date", "status", "department", "job_title", "location", "exit_date", "exit_reason")


def explain(conn: duckdb.DuckDBPyConnection, employee_id: str, options: ExplainOptions) -> Explanation:
    """What the store holds on one person and what the system did about them; writes an audit row."""
    employee_id = check_id(employee_id)
    out = Explanation(employee_id=employee_id, generated_at=utcnow())
    out.held = _held(conn, employee_id)
    row = fetch_one(
        conn,
        f"select {', '.join(_PROFILE)}, manager_id is not null and manager_id <> employee_id, _file, _line"
        " from employees where employee_id = ?",
        [employee_id],
    )
    if row is None and not out.held:
        if _forgotten_among(conn, [employee_id]):
            raise PrivacyError(f"employee id {employee_id!r} was forgotten: the store holds nothing about them")
        raise PrivacyError(
            f"the store holds nothing about employee id {employee_id!r}: check the id (ids are case-sensitive)"
        )
    if row is not None:
        out.profile = [Value(k, "none" if v is None else _show(v)) for k, v in zip(_PROFILE, row[: len(_PROFILE)], strict=True)]
        out.profile.append(Value("has a manager on record", "yes" if row[-3] else "no"))
        out.profile.append(Value("roster source", f"{row[-2]}, line {row[-1]}"))
        out.profile += [
            Value(f"attribute {n}", _show(v))
            for n, v in conn.execute(
                "select name, value from employee_attributes where employee_id = ? order by name", [employee_id]
            ).fetchall()
        ]
    else:
        out.notes.append("Not on the current roster: only the records below remain.")
    out.opted_out = bool(fetch_value(conn, "select count(*) from opt_out where employee_id = ?", [employee_id]))
    out.nudges = [
        NudgeAbout(w, k, "skip-level manager" if s else "their manager", d or "not queued")
        for w, k, s, d in conn.execute(
            "select n.week, n.kind, n.skip_level, o.state from nudges n left join outbox o using (week, manager_id)"
            " where n.employee_id = ? order by n.week, n.kind",
            [employee_id],
        ).fetchall()
    ]
    out.decisions = [
        DecisionAbout(w, o, r, k, "skip-level manager" if s else "their manager")
        for w, o, r, k, s in conn.execute(
            "select week, outcome, reason, kind, skip_level from decisions where employee_id = ? order by week",
            [employee_id],
        ).fetchall()
    ]
    if out.opted_out:
        out.notes.append("Opted out: never scored, never named in a digest, not used for training.")
    elif row is not None:
        _explain_score(conn, employee_id, options, out)
    _audit(conn, options.actor, "explain", {"employee_id": employee_id, "week": out.week})
    log.info("explain: 1 person, %d tables with rows", len(out.held))
    return out


def _held(conn: duckdb.DuckDBPyConnection, employee_id: str) -> list[Held]:
    held: list[Held] = []
    sources = {s.name: s for s in SOURCES if s.event_time}
    for table, column in person_columns(conn):
        source = sources.get(table)
        subject = source is not None and column == next(c.name for c in source.columns if c.references_employee)
        t, c = quote_ident(table), quote_ident(column)
        if subject:
            assert source is not None and source.event_time is not None
            e = quote_ident(source.event_time)
            n, first, last = fetch_one(
                conn, f"select count(*), min(cast({e} as date)), max(cast({e} as date)) from {t} where {c} = ?",
                [employee_id],
            ) or (0, None, None)
        else:
            n, first, last = int(fetch_value(conn, f"select count(*) from {t} where {c} = ?", [employee_id]) or 0), None, None
        if n and (table, column) != ("employees", "employee_id"):
            held.append(Held(table, "subject" if subject or column == "employee_id" else f"as {column}", int(n), first, last))
    quarantined = int(fetch_value(conn, "select count(*) from quarantine where value = ?", [employee_id]) or 0)
    if quarantined:
        held.append(Held("quarantine", "their id as a rejected value", quarantined))
    return held


def _explain_score(conn: duckdb.DuckDBPyConnection, employee_id: str, options: ExplainOptions, out: Explanation) -> None:
    latest = fetch_value(conn, "select max(week) from runs where kind = 'weekly' and status = 'completed'")
    week = options.week or (IsoWeek.parse(latest) if latest else IsoWeek.containing(date.today()))
    out.week = str(week)
    features = compute_features(conn, week.as_of)
    mask = np.asarray(features["employee_id"] == employee_id, dtype=bool)
    if not mask.any():
        out.notes.append(f"Not on the roster for {week}: no features or score.")
        return
    one = Features(as_of=features.as_of, columns={k: v[mask] for k, v in features.columns.items()})
    for name, values in one.columns.items():
        if name in _NOT_FEATURES:
            continue
        if name in SURVEY_FEATURES:
            out.features.append(Value(name, None, "from survey answers: held, never shown per person"))
        elif name.startswith("team_"):
            out.features.append(Value(name, None, "a team aggregate (other people's data): not shown"))
        else:
            out.features.append(Value(name, _show(values[0])))
    if options.score is None:
        return
    scores = options.score(one)
    out.score_method, out.score_note = scores.method, scores.note
    out.risk = float(scores.risk[0])
    for signal, values in sorted(scores.drivers.items(), key=lambda kv: -float(np.nan_to_num(kv[1][0]))):
        if signal in SURVEY_DRIVERS:
            out.drivers.append(Value(signal, None, "from survey answers: held, never shown per person"))
        else:
            out.drivers.append(Value(signal, _show(values[0])))
    out.notes.append(
        f"Features and score recomputed now for {week} with the current {scores.method} score; a digest made"
        " that week used the score of the day."
    )


def _show(value: Any) -> str:
    if value is None or value is np.ma.masked:
        return "unknown"
    if isinstance(value, float | np.floating):
        if math.isnan(float(value)):
            return "unknown"
        return f"{float(value):.3g}" if abs(float(value)) < 1 else f"{float(value):,.1f}".removesuffix(".0")
    if isinstance(value, np.bool_ | bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def explanation_text(e: Explanation) -> str:
    """The page as plain text (what `retention explain` prints)."""
    lines = [f"What retention-nudges holds about employee {e.employee_id} (as of {e.generated_at:%Y-%m-%d %H:%M} UTC)", ""]
    lines += [f"- {n}" for n in e.notes]
    if e.notes:
        lines.append("")
    lines.append("Profile")
    lines += [f"  {v.name}: {v.value}" for v in e.profile] or ["  (not on the roster)"]
    lines += ["", "Records held (rows; dates of their own events)"]
    for h in e.held:
        span = f", {h.first} to {h.last}" if h.first else ""
        lines.append(f"  {h.table} ({h.role}): {h.rows:,} rows{span}")
    if not e.held:
        lines.append("  none")
    if e.week:
        lines += ["", f"Features for {e.week}"]
        lines += [f"  {v.name}: {v.value if v.value is not None else 'withheld (' + v.note + ')'}" for v in e.features]
    if e.score_method:
        lines += ["", f"Score ({e.score_method}): {e.risk:.3f}", "Drivers (how much restoring each signal would lower it)"]
        lines += [f"  {v.name}: {v.value if v.value is not None else 'withheld (' + v.note + ')'}" for v in e.drivers]
    lines += ["", "Nudges about them"]
    lines += [f"  {n.week}: {n.kind}, to {n.via}, {n.delivery}" for n in e.nudges] or ["  none"]
    lines += ["", "Decisions about them"]
    lines += [
        f"  {d.week}: {d.outcome} ({d.reason}){', ' + d.kind if d.kind else ''}, for {d.via}" for d in e.decisions
    ] or ["  none"]
    return "\n".join(lines) + "\n"


def explanation_html(e: Explanation) -> str:
    """The page as HTML (templates/explain.html, autoescaped)."""
    from core.templating import environment

    return environment().get_template("explain.html").render(e=e)
