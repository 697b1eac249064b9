"""Deliver the outbox over SMTP and keep its states honest across failures and crashes.

States of an `outbox` row: queued -> sending -> sent | deferred | failed_permanent.
A row is marked `sending` (attempts + 1) just before its message goes to the
server and `sent` only after the server accepted it. If the process dies in
between, the next `retention send` finds it still `sending` and sends it again
with the same Message-ID: at-least-once. Only messages the server accepted in
the last `FLUSH_S` seconds before the crash can arrive twice (claimed messages
that were never sent were never seen), and receivers can de-duplicate on
Message-ID. `deferred` rows (temporary failures that outlasted
this run's retries) and `queued` ones are sent by the next run;
`failed_permanent` rows wait for `retention outbox retry --failed`.

Log lines carry weeks, manager ids, states and counts; never a body, a name or
an address.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import getaddresses

import duckdb
import pyarrow as pa

from core.db import fetch_value, utcnow
from core.errors import DeliveryError
from nudges.smtp import Outcome, Outgoing, SmtpConfig, deliver
from pipelines.settings import Settings

log = logging.getLogger("retention.sending")

PENDING = ("queued", "sending", "deferred")
# `written`: files mode wrote it to the outbox folder (nobody was emailed).
# `withdrawn`: not sent, and never will be; it named a person who was forgotten (pipelines/privacy.py).
STATES = ("queued", "sending", "sent", "written", "deferred", "failed_permanent", "withdrawn")
CLAIM_SIZE = 64  # messages marked `sending` in one write, before any of them is handed to a connection
FLUSH_S = 0.05  # outcomes are recorded at least this often
PAGE_SIZE = 5000  # digests read into memory at a time (about 100 MB)
Progress = Callable[[int, int], None]


@dataclass
class SendReport:
    """Counts only: safe to print and log."""

    pending: int = 0
    resumed: int = 0  # rows found `sending`: in flight when an earlier run stopped
    states: dict[str, int] = field(default_factory=dict)  # outcome state -> messages
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.pending / self.seconds if self.seconds else 0.0


def smtp_config(settings: Settings) -> SmtpConfig:
    s = settings.smtp
    return SmtpConfig(
        host=s.host,
        port=s.port,
        tls=s.tls,
        username=s.username,
        password=s.password.get_secret_value() if s.password else None,
        timeout_s=s.timeout_s,
        max_connections=s.max_connections,
        messages_per_connection=s.messages_per_connection,
        rate_per_minute=s.rate_per_minute,
        max_attempts=s.max_attempts,
        backoff_base_s=s.backoff_base_s,
        backoff_max_s=s.backoff_max_s,
        cert_bundle=str(s.cert_bundle) if s.cert_bundle else None,
        validate_certs=s.validate_certs,
    )


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


def send_pending(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    week: str | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> SendReport:
    """Send what is queued, in flight from a crash, or deferred; record every outcome as it settles.

    Messages are read a page at a time, so memory holds one page of bytes (a 2M-person
    company's week is 2.6 GB of digests). A page in which nothing was accepted and
    everything was deferred means the server is down or refusing us: the pages after it
    are deferred untried, with the same reason, instead of each waiting out its timeout.
    """
    keys = pending_keys(conn, week)
    report = SendReport(pending=len(keys))
    if not keys:
        return report
    report.resumed = int(
        fetch_value(
            conn,
            "select count(*) from outbox where state = 'sending'" + (" and week = ?" if week else ""),
            [week] if week else [],
        )
        or 0
    )
    states: Counter[str] = Counter()
    done = 0
    started = time.perf_counter()
    for start in range(0, len(keys), max(1, page_size)):
        page = keys[start : start + page_size]
        messages, unusable = pending_messages(conn, settings.email.sender, page)
        record(conn, unusable)
        states.update(o.state for o in unusable)
        outcomes = _send_page(conn, messages, settings, _offset(progress, done, len(keys)))
        states.update(o.state for o in outcomes)
        done += len(page)
        if outcomes and all(o.state == "deferred" for o in outcomes):
            rest = keys[start + page_size :]
            reason = next((o.error for o in outcomes if o.error), None) or "the mail server accepted nothing"
            skipped = [Outcome(k, "deferred", 0, f"not tried: {reason}") for k in rest]
            record(conn, skipped)
            states.update(o.state for o in skipped)
            break
    report.seconds = time.perf_counter() - started
    report.states = dict(states)
    log.info(
        "sent %d of %d digests in %.1f s (%s)",
        states.get("sent", 0),
        len(keys),
        report.seconds,
        ", ".join(f"{k} {v}" for k, v in sorted(states.items())),
    )
    return report


def _offset(progress: Progress | None, base: int, total: int) -> Callable[[int], None] | None:
    """Progress within a page, reported as progress within the whole send."""
    if progress is None:
        return None
    return lambda n: progress(base + n, total)


def _send_page(
    conn: duckdb.DuckDBPyConnection,
    messages: list[Outgoing],
    settings: Settings,
    progress: Callable[[int], None] | None,
) -> list[Outcome]:
    if not messages:
        return []
    done = 0
    # Store writes run on one thread of their own (DuckDB releases the GIL), in order, on
    # a cursor of their own: while one chunk is recorded the other connections keep sending.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-writer")
    cursor = conn.cursor()

    async def claimed(chunk: list[Outgoing]) -> None:
        await asyncio.get_running_loop().run_in_executor(writer, mark_sending, cursor, chunk)

    async def settled(outcomes: list[Outcome]) -> None:
        nonlocal done
        await asyncio.get_running_loop().run_in_executor(writer, record, cursor, outcomes)
        done += len(outcomes)
        if progress is not None:
            progress(done)

    try:
        return asyncio.run(
            deliver(messages, smtp_config(settings), on_claim=claimed, on_outcomes=settled, claim_size=CLAIM_SIZE, flush_s=FLUSH_S)
        )
    finally:
        writer.shutdown(wait=True)
        cursor.close()


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
