"""The outbox and its state machine: one message per (ISO week, manager), whatever happens after.

A digest enters the `outbox` table once; a re-run of the week finds it there and adds
nothing. States of a row: queued -> sending -> sent | deferred | failed_permanent, or
queued -> written (files mode), or withdrawn (it named a person who was later
forgotten). Every transition is a function here; `files.py` and `send.py` call them.

A row is marked `sending` (attempts + 1) just before its message goes to the server
and `sent` only after the server accepted it. If the process dies in between, the
next send finds it still `sending` and sends it again with the same Message-ID:
at-least-once; receivers can de-duplicate on Message-ID. `deferred` rows and
`queued` ones are sent by the next run; `failed_permanent` rows wait for
`retention outbox retry --failed`.

Log lines carry weeks, manager ids, states and counts; never a body, a name or an address.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from email.utils import getaddresses

import duckdb
import pyarrow as pa

from core.db import fetch_value, utcnow
from core.errors import DeliveryError
from nudges.delivery.smtp import Outcome, Outgoing
from nudges.render import Digest

log = logging.getLogger("retention.sending")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

PENDING = ("queued", "sending", "deferred")
# `written`: files mode wrote it to the outbox folder (nobody was emailed).
# `withdrawn`: not sent, and never will be; it named a person who was forgotten (pipelines/privacy).
STATES = ("queued", "sending", "sent", "written", "deferred", "failed_permanent", "withdrawn")


def safe_filename(manager_id: str) -> str:
    """A file name that cannot escape the folder, distinct for distinct ids."""
    cleaned = _UNSAFE.sub("_", manager_id).lstrip(".")
    if cleaned == manager_id and cleaned:
        return cleaned
    suffix = hashlib.sha256(manager_id.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:60] or 'manager'}-{suffix}"


def queued_managers(conn: duckdb.DuckDBPyConnection, week: str) -> set[str]:
    """Managers who already have this week's digest: a re-run must not make another."""
    rows = conn.execute("select manager_id from outbox where week = ?", [week]).fetchall()
    return {r[0] for r in rows}


def enqueue(conn: duckdb.DuckDBPyConnection, messages: Sequence[tuple[Digest, bytes]]) -> int:
    """Queue each digest unless its (week, manager) is already there; returns how many were added.

    One set-based insert: a row-at-a-time loop costs milliseconds per statement.
    """
    if not messages:
        return 0
    batch = pa.table(
        {
            "week": [d.week for d, _ in messages],
            "manager_id": [d.manager_id for d, _ in messages],
            "message_id": [d.message_id for d, _ in messages],
            "recipient": [d.recipient for d, _ in messages],
            "subject": [d.subject for d, _ in messages],
            "message": pa.array([m for _, m in messages], type=pa.binary()),
            "html": [d.html for d, _ in messages],
            "nudge_count": pa.array([d.nudge_count for d, _ in messages], type=pa.int32()),
        }
    )
    return enqueue_table(conn, batch)


def enqueue_table(conn: duckdb.DuckDBPyConnection, batch: pa.Table) -> int:
    """Queue prepared rows (week, manager_id, message_id, recipient, subject, message bytes, html,
    nudge_count, in that order) unless their (week, manager) is there; returns how many were added."""
    before = fetch_value(conn, "select count(*) from outbox")
    conn.register("_outbox_batch", batch)
    try:
        conn.execute(
            "insert into outbox (week, manager_id, message_id, recipient, subject, message, html, nudge_count,"
            " state, created_at) select *, 'queued', ? from _outbox_batch on conflict do nothing",
            [utcnow()],
        )
    finally:
        conn.unregister("_outbox_batch")
    return int(fetch_value(conn, "select count(*) from outbox") - before)


def envelope_address(header: str, *, what: str) -> str:
    """The bare address of a From/To header value, or a DeliveryError naming which one."""
    parsed = getaddresses([header])
    if len(parsed) != 1 or "@" not in parsed[0][1]:
        raise DeliveryError(f"{what} is not a single email address")
    return parsed[0][1]


def pending_keys(conn: duckdb.DuckDBPyConnection, week: str | None = None) -> list[tuple[str, str]]:
    """(week, manager) of everything not yet accepted (queued, in flight at a crash, deferred), oldest week first."""
    sql = "select week, manager_id from outbox where state in ('queued', 'sending', 'deferred')"
    params: list[object] = []
    if week is not None:
        sql += " and week = ?"
        params.append(week)
    return [(str(w), str(m)) for w, m in conn.execute(sql + " order by week, manager_id", params).fetchall()]


def pending_messages(
    conn: duckdb.DuckDBPyConnection, sender: str, keys: Sequence[tuple[str, str]]
) -> tuple[list[Outgoing], list[Outcome]]:
    """The bytes of these digests, ready for the wire.

    A row whose recipient is not one usable address cannot be sent at all: it
    comes back as a permanent failure instead of stopping everyone else's mail.
    """
    if not keys:
        return [], []
    conn.register("_page", _keys_table(keys))
    try:
        rows = conn.execute(
            "select o.week, o.manager_id, o.recipient, o.message from outbox o join _page p using (week, manager_id)"
            " order by o.week, o.manager_id"
        ).fetchall()
    finally:
        conn.unregister("_page")
    envelope_from = envelope_address(sender, what="[email] sender")
    messages, unusable = [], []
    for week_, manager, recipient, data in rows:
        try:
            to = envelope_address(recipient, what="recipient")
        except DeliveryError:
            unusable.append(Outcome((week_, manager), "failed_permanent", 0, "the recipient is not one usable address"))
            continue
        messages.append(Outgoing((week_, manager), envelope_from, to, bytes(data)))
    return messages, unusable


def _keys_table(keys: Sequence[tuple[str, str]], **columns: Sequence[object]) -> pa.Table:
    return pa.table(
        {
            "week": pa.array([k[0] for k in keys], type=pa.string()),
            "manager_id": pa.array([k[1] for k in keys], type=pa.string()),
            **{name: pa.array(list(values)) for name, values in columns.items()},
        }
    )


def mark_sending(conn: duckdb.DuckDBPyConnection, messages: Sequence[Outgoing]) -> None:
    """Before the server sees them: in flight, one more attempt each."""
    conn.register("_claimed", _keys_table([m.key for m in messages]))
    try:
        conn.execute(
            """
            update outbox set state = 'sending', attempts = coalesce(attempts, 0) + 1, last_attempt_at = ?
            from _claimed c where outbox.week = c.week and outbox.manager_id = c.manager_id
            """,
            [utcnow()],
        )
    finally:
        conn.unregister("_claimed")


def record(conn: duckdb.DuckDBPyConnection, outcomes: Sequence[Outcome]) -> None:
    """After the server answered: sent, deferred or failed for good, with the (masked) reply."""
    if not outcomes:
        return
    batch = _keys_table(
        [o.key for o in outcomes],
        state=[o.state for o in outcomes],
        extra=[max(o.attempts - 1, 0) for o in outcomes],  # retries inside this run beyond the first
        error=pa.array([o.error for o in outcomes], type=pa.string()),
    )
    conn.register("_settled", batch)
    try:
        conn.execute(
            """
            update outbox set state = s.state, attempts = coalesce(attempts, 0) + s.extra, last_error = s.error,
                   delivered_at = case when s.state = 'sent' then ? else delivered_at end
            from _settled s where outbox.week = s.week and outbox.manager_id = s.manager_id
            """,
            [utcnow()],
        )
    finally:
        conn.unregister("_settled")
    for o in outcomes:
        if o.state != "sent":
            log.warning("digest %s/%s %s after %d attempts", o.key[0], o.key[1], o.state, o.attempts)


def outbox_status(conn: duckdb.DuckDBPyConnection, week: str | None = None) -> tuple[dict[str, int], list[tuple]]:
    """Counts by state, and the rows that did not go out with their reasons (no bodies, no addresses)."""
    where, params = (" where week = ?", [week]) if week else ("", [])
    counts = {s: int(n) for s, n in conn.execute(f"select state, count(*) from outbox{where} group by 1", params).fetchall()}
    problems = conn.execute(
        "select week, manager_id, state, coalesce(attempts, 0), last_error from outbox"
        + (where + " and" if where else " where")
        + " state in ('deferred', 'failed_permanent', 'sending') order by week, manager_id",
        params,
    ).fetchall()
    return counts, problems


def retry_failed(conn: duckdb.DuckDBPyConnection, week: str | None = None) -> int:
    """Put permanently failed digests back in the queue (after someone fixed the address or relay)."""
    where, params = (" and week = ?", [week]) if week else ("", [])
    before = conn.execute(f"select count(*) from outbox where state = 'failed_permanent'{where}", params).fetchall()
    conn.execute(f"update outbox set state = 'queued', last_error = null where state = 'failed_permanent'{where}", params)
    return int(before[0][0])
