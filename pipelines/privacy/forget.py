"""Forget: erase one person from the store and the outbox, and keep counts only.

Deletes every row about the person in every table with a person-id column (found in the
schema at run time), redacts stored digests that name them (counts kept), records a keyed
hash in `forgotten` so later drop files cannot bring them back, and an audit row with
counts only. `retention.compact_store` then rewrites the DuckDB file so deleted bytes do
not linger in free pages.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb

from core.db import fetch_one, fetch_value, quote_ident, utcnow
from core.errors import PrivacyError
from core.files import atomic_write
from nudges.delivery.outbox import safe_filename
from pipelines.privacy.audit import write_audit
from pipelines.privacy.forgotten import forgotten_among, forgotten_key
from pipelines.privacy.identity import KEEP_ROW, check_id, is_known, person_columns

log = logging.getLogger("retention.privacy")


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
        if forgotten_among(conn, [employee_id]):
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
        write_audit(conn, actor, "forget", report.counts())
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

