"""Opt-out: people who are never scored, selected, named in a digest or trained on.

The `opt_out` table is fed by `[privacy] opt_out_file` and `retention opt-out`. The weekly
run drops these people right after computing features, so they are never scored, selected
or named in a digest; training leaves them out too. A person who opted out and manages
people still receives their reports' digests: opting out is about being scored, not about
managing.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from core.db import ID_RE, fetch_value, transaction, utcnow
from core.errors import ConfigError, PrivacyError
from models.features import Features
from pipelines.privacy.audit import write_audit
from pipelines.privacy.forgotten import forgotten_among
from pipelines.privacy.identity import check_id

log = logging.getLogger("retention.privacy")


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
    wanted = sorted(set(parsed.ids) - forgotten_among(conn, parsed.ids))
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
            write_audit(conn, "file", "opt_out_sync", {"added": result.added, "removed": result.removed})
    log.info("opt-out file: %d listed, %d added, %d removed", result.listed, result.added, result.removed)
    if parsed.bad:
        line, reason = parsed.bad[0]
        more = f" (and {len(parsed.bad) - 1} more bad lines)" if len(parsed.bad) > 1 else ""
        raise ConfigError(
            f"{path}: line {line}: {reason}{more}; the file's {len(wanted)} good ids were applied."
            " Fix the line and run again"
        )
    return result


def opted_out_ids(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in conn.execute("select employee_id from opt_out").fetchall()}


def add_opt_outs(conn: duckdb.DuckDBPyConnection, ids: Sequence[str], *, actor: str, force: bool = False) -> int:
    """Opt these people out (recorded as added from the CLI); returns how many were new.

    An id the roster does not hold is most likely a typo, so the whole call is refused unless
    `force` (someone known only to a roster file still to come).
    """
    ids = [check_id(i) for i in ids]
    unknown = [] if force else sorted(set(ids) - _on_roster(conn, ids) - forgotten_among(conn, ids))
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise PrivacyError(
            f"not on the roster: {shown} (ids are case-sensitive); nobody was opted out. Check the ids, or pass"
            " --force to opt out someone known only to a roster file still to come"
        )
    added = 0
    with transaction(conn):
        for employee_id in dict.fromkeys(ids):
            if forgotten_among(conn, [employee_id]):
                continue  # forgetting already keeps them out of everything, and their id is not kept
            new = fetch_value(
                conn, "insert into opt_out values (?, ?, 'cli') on conflict do nothing", [employee_id, utcnow()]
            )
            if new:
                added += 1
                write_audit(conn, actor, "opt_out_add", {"employee_id": employee_id})
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
                write_audit(conn, actor, "opt_out_remove", {"employee_id": employee_id})
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
