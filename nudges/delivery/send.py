"""Send the outbox over SMTP, a page at a time, recording every outcome as it settles.

The states and their transitions are in `outbox.py`; this module drives them: claim a
chunk (`sending`), hand it to `smtp.deliver`, record what the server answered. A page
in which nothing was accepted stops the run early (the server is down or refusing us).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb

from core.db import fetch_value
from nudges.delivery.outbox import mark_sending, pending_keys, pending_messages, record
from nudges.delivery.smtp import Outcome, Outgoing, SmtpConfig, deliver

log = logging.getLogger("retention.sending")

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


@dataclass(frozen=True)
class SendOptions:
    """What sending needs from the configuration: the server and the envelope sender."""

    smtp: SmtpConfig
    sender: str


def send_pending(
    conn: duckdb.DuckDBPyConnection,
    options: SendOptions,
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
        messages, unusable = pending_messages(conn, options.sender, page)
        record(conn, unusable)
        states.update(o.state for o in unusable)
        outcomes = _send_page(conn, messages, options.smtp, _offset(progress, done, len(keys)))
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
    config: SmtpConfig,
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
            deliver(messages, config, on_claim=claimed, on_outcomes=settled, claim_size=CLAIM_SIZE, flush_s=FLUSH_S)
        )
    finally:
        writer.shutdown(wait=True)
        cursor.close()
