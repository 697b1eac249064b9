"""SMTP delivery end to end: the tiny org's week in a real DuckDB store, sent to a real aiosmtpd server.

Each test queues the week's digests (run in files mode, then put back to
`queued`, so the runs differ only in what the server does), sends them with
`send_pending`, and checks both sides: what the server accepted and what the
outbox says. The server misbehaves on purpose (451, 550, dropped connections,
an untrusted certificate) to show that no digest is lost or sent twice.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from nudges.delivery.outbox import enqueue_table, retry_failed
from nudges.delivery.send import CLAIM_SIZE, send_pending
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.options import send_options
from pipelines.settings import Settings
from pipelines.store import connect
from pipelines.weekly.run import run_week
from pipelines.weeks import IsoWeek
from tests.conftest import TODAY, WEEK, tiny_org, write_drop
from tests.smtp_servers import RecordingHandler, SmtpSink, make_self_signed

ROOT = Path(__file__).resolve().parents[1]
SINK_SCRIPT = Path(__file__).with_name("smtp_servers.py")


@pytest.fixture(autouse=True)
def _no_retention_env(in_tmp: Path) -> None:
    """No RETENTION_* variable from the shell may change the settings under test."""


@pytest.fixture
def start_sink() -> Iterator[Callable[..., SmtpSink]]:
    """Start an in-process SMTP server with the given faults; stopped after the test."""
    sinks: list[SmtpSink] = []

    def start(*, delay_s: float = 0.0, tls: Any = None, **faults: Any) -> SmtpSink:
        sink = SmtpSink(RecordingHandler(**faults), delay_s=delay_s, tls=tls).start()
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.stop()


def smtp_settings(tmp_path: Path, sink: SmtpSink | None, **smtp: Any) -> Settings:
    """Delivery through `sink` with fast retries; other sections as in test_weekly."""
    server = {"host": sink.host, "port": sink.port} if sink else {"host": "127.0.0.1", "port": 9}
    return Settings(
        delivery={"mode": "smtp", "outbox_dir": tmp_path / "outbox"},
        store={"path": tmp_path / "retention.duckdb"},
        report={"dir": tmp_path / "reports"},
        smtp={**server, "tls": "none", "backoff_base_s": 0.01, "backoff_max_s": 0.05, **smtp},
    )


def queue_week(conn: duckdb.DuckDBPyConnection, drop: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """Ingest the drop and run the week into the outbox; every digest queued, none sent yet."""
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    files = Settings(
        delivery={"mode": "files", "outbox_dir": tmp_path / "outbox"},
        store={"path": tmp_path / "retention.duckdb"},
        report={"dir": tmp_path / "reports"},
    )
    run_week(conn, files, IsoWeek.parse(WEEK))
    conn.execute("update outbox set state = 'queued', delivered_at = null, attempts = 0, last_error = null")
    return conn


@pytest.fixture
def queued(conn: duckdb.DuckDBPyConnection, drop: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """The tiny org's week, queued for SMTP."""
    queue_week(conn, drop, tmp_path)
    assert rows(conn), "the tiny org should give at least one digest"
    return conn


def rows(conn: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Outbox rows by manager id."""
    cursor = conn.execute(
        "select manager_id, message_id, recipient, state, coalesce(attempts, 0), last_error, delivered_at from outbox"
    )
    names = ["manager_id", "message_id", "recipient", "state", "attempts", "last_error", "delivered_at"]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def states(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {m: r["state"] for m, r in rows(conn).items()}


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def address(header: str) -> str:
    return getaddresses([header])[0][1]


def test_every_queued_digest_arrives_once_as_a_well_formed_email(queued, start_sink, tmp_path):
    sink = start_sink()
    settings = smtp_settings(tmp_path, sink)
    report = send_pending(queued, send_options(settings))

    outbox = rows(queued)
    by_id = {r["message_id"]: r for r in outbox.values()}
    received = sink.received
    assert report.states == {"sent": len(outbox)}
    assert sorted(r.message_id for r in received) == sorted(by_id)
    for got in received:
        row = by_id[got.message_id]
        message = parse(got.data)
        assert message.get_content_type() == "multipart/alternative"
        assert message["Message-ID"] == row["message_id"]
        assert message["From"] == settings.email.sender
        assert message["Reply-To"] == settings.email.reply_to
        assert message["List-Unsubscribe"] == f"<{settings.email.unsubscribe}>"
        assert parsedate_to_datetime(message["Date"]) is not None
        assert got.mail_from == address(settings.email.sender)
        assert list(got.rcpt_tos) == [address(row["recipient"])]
    assert all(r["state"] == "sent" and r["attempts"] == 1 and r["delivered_at"] for r in outbox.values())


def test_digests_sent_a_page_at_a_time_each_arrive_once(queued, start_sink, tmp_path):
    sink = start_sink()
    report = send_pending(queued, send_options(smtp_settings(tmp_path, sink)), page_size=1)
    outbox = rows(queued)
    assert len(outbox) >= 3  # one page each
    assert report.states == {"sent": len(outbox)}
    assert sorted(sink.message_ids()) == sorted(r["message_id"] for r in outbox.values())


def test_after_a_page_the_server_accepted_nothing_of_the_rest_are_deferred_untried(queued, start_sink, tmp_path):
    sink = start_sink(always_451=True)
    report = send_pending(queued, send_options(smtp_settings(tmp_path, sink, max_attempts=1)), page_size=1)
    outbox = rows(queued)
    assert report.states == {"deferred": len(outbox)}
    tried = [r for r in outbox.values() if r["attempts"]]
    assert len(tried) == 1 < len(outbox)  # the first page only
    assert all(r["last_error"].startswith("not tried:") for r in outbox.values() if not r["attempts"])
    sink.handler.always_451 = False
    assert send_pending(queued, send_options(smtp_settings(tmp_path, sink))).states == {"sent": len(outbox)}


def test_a_second_send_after_success_sends_nothing(queued, start_sink, tmp_path):
    sink = start_sink()
    settings = smtp_settings(tmp_path, sink)
    send_pending(queued, send_options(settings))
    count = len(sink.received)

    again = send_pending(queued, send_options(settings))

    assert again.pending == 0
    assert len(sink.received) == count


def test_a_451_on_the_first_attempt_is_retried_and_each_digest_arrives_once(queued, start_sink, tmp_path):
    sink = start_sink(fail_first_451=True)
    send_pending(queued, send_options(smtp_settings(tmp_path, sink)))

    outbox = rows(queued)
    assert Counter(sink.message_ids()) == Counter({r["message_id"]: 1 for r in outbox.values()})
    assert sink.handler.data_commands == 2 * len(outbox)
    assert {(r["state"], r["attempts"]) for r in outbox.values()} == {("sent", 2)}


def test_a_550_for_one_recipient_fails_that_digest_for_good_without_the_address(queued, start_sink, tmp_path):
    refused = address(rows(queued)["E02"]["recipient"])
    sink = start_sink(reject={refused: f"550 5.1.1 <{refused}>: Recipient address rejected"})
    send_pending(queued, send_options(smtp_settings(tmp_path, sink)))

    outbox = rows(queued)
    failed = outbox.pop("E02")
    assert failed["state"] == "failed_permanent" and failed["attempts"] == 1
    assert "550" in failed["last_error"]
    assert refused not in failed["last_error"] and "@" not in failed["last_error"]
    assert {r["state"] for r in outbox.values()} == {"sent"}
    assert sorted(sink.message_ids()) == sorted(r["message_id"] for r in outbox.values())


def test_retry_failed_puts_a_permanently_failed_digest_back_in_the_queue(queued, start_sink, tmp_path):
    refused = address(rows(queued)["E02"]["recipient"])
    sink = start_sink(reject={refused: "550 5.1.1 no such user"})
    send_pending(queued, send_options(smtp_settings(tmp_path, sink)))
    assert states(queued)["E02"] == "failed_permanent"

    assert retry_failed(queued) == 1

    row = rows(queued)["E02"]
    assert row["state"] == "queued" and row["last_error"] is None
    assert set(states(queued).values()) == {"queued", "sent"}


def test_a_connection_dropped_during_data_is_retried_without_losing_a_digest(queued, start_sink, tmp_path):
    sink = start_sink(drop_mid_data=2)
    send_pending(queued, send_options(smtp_settings(tmp_path, sink)))

    outbox = rows(queued)
    assert sink.handler.drops == 2
    assert Counter(sink.message_ids()) == Counter({r["message_id"]: 1 for r in outbox.values()})
    assert {r["state"] for r in outbox.values()} == {"sent"}


def test_a_relay_that_stays_busy_defers_digests_and_the_next_send_delivers_them(queued, start_sink, tmp_path):
    sink = start_sink(always_451=True)
    settings = smtp_settings(tmp_path, sink, max_attempts=2)
    send_pending(queued, send_options(settings))

    deferred = rows(queued)
    assert {(r["state"], r["attempts"]) for r in deferred.values()} == {("deferred", 2)}
    assert all("451" in r["last_error"] for r in deferred.values())
    assert sink.received == []

    sink.handler.always_451 = False
    report = send_pending(queued, send_options(settings))

    assert report.states == {"sent": len(deferred)}
    assert sorted(sink.message_ids()) == sorted(r["message_id"] for r in deferred.values())
    assert {r["state"] for r in rows(queued).values()} == {"sent"}


def test_re_running_the_week_after_it_was_sent_sends_nothing(queued, start_sink, tmp_path):
    sink = start_sink()
    settings = smtp_settings(tmp_path, sink)
    send_pending(queued, send_options(settings))
    count = len(sink.received)

    week = run_week(queued, settings, IsoWeek.parse(WEEK))
    again = send_pending(queued, send_options(settings), week=WEEK)

    assert week.digests_new == 0
    assert again.pending == 0
    assert len(sink.received) == count
    assert {r["state"] for r in rows(queued).values()} == {"sent"}


def test_starttls_with_a_self_signed_certificate_delivers_when_the_bundle_trusts_it(queued, start_sink, tmp_path):
    tls = make_self_signed(tmp_path / "tls")
    sink = start_sink(tls=tls)
    send_pending(queued, send_options(smtp_settings(tmp_path, sink, tls="starttls", cert_bundle=tls.cert)))

    assert {r["state"] for r in rows(queued).values()} == {"sent"}
    assert len(sink.received) == len(rows(queued))
    assert all(r.tls for r in sink.received)


def test_starttls_refuses_a_certificate_nobody_trusts_and_defers(queued, start_sink, tmp_path):
    tls = make_self_signed(tmp_path / "tls")
    sink = start_sink(tls=tls)
    send_pending(queued, send_options(smtp_settings(tmp_path, sink, tls="starttls", max_attempts=2)))

    outbox = rows(queued)
    assert {r["state"] for r in outbox.values()} == {"deferred"}
    assert all("certificate" in r["last_error"].lower() for r in outbox.values())
    assert sink.received == []


def test_a_line_break_in_a_managers_name_cannot_add_a_header(conn, start_sink, tmp_path):
    org = tiny_org()
    assert "Manager E02," in org["employees.csv"]
    org["employees.csv"] = org["employees.csv"].replace(
        "Manager E02,", '"Manager E02\r\nBcc: evil@example.com\r\nX-Injected: yes",', 1
    )
    queue_week(conn, write_drop(tmp_path / "evil-drop", org), tmp_path)
    sink = start_sink()
    send_pending(conn, send_options(smtp_settings(tmp_path, sink)))

    [got] = [r for r in sink.received if r.message_id == rows(conn)["E02"]["message_id"]]
    message = parse(got.data)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert len(message.get_all("To")) == 1
    assert [a for _, a in getaddresses(message.get_all("To"))] == ["e02@example.com"]
    assert list(got.rcpt_tos) == ["e02@example.com"]
    assert all("evil@example.com" not in r.rcpt_tos for r in sink.received)


def test_an_address_the_relay_cannot_take_fails_only_that_digest(conn, start_sink, tmp_path):
    """A non-ASCII mailbox passes ingest and rendering; sending must not crash on it or strand the others."""
    org = tiny_org()
    org["employees.csv"] = org["employees.csv"].replace("e02@example.com", "josé@example.com", 1)
    queue_week(conn, write_drop(tmp_path / "utf8-drop", org), tmp_path)
    sink = start_sink()

    send_pending(conn, send_options(smtp_settings(tmp_path, sink)))

    outbox = states(conn)
    assert outbox.pop("E02") in {"failed_permanent", "deferred"}
    assert set(outbox.values()) == {"sent"}


# --- the crash test: kill `retention send` half-way, resume, count -------------------------------


def _fan_out(conn: duckdb.DuckDBPyConnection, total: int) -> None:
    """Copy the week's digests into `total` queued rows for fake managers, each with its own Message-ID."""
    templates = conn.execute("select manager_id, message_id, recipient, subject, message, html from outbox").fetchall()
    week, ids, mids, recipients, subjects, messages, htmls = [], [], [], [], [], [], []
    for i in range(total - len(templates)):
        _, mid, recipient, subject, data, html = templates[i % len(templates)]
        new_mid = f"<kill-{i:05d}.{WEEK.lower()}@example.com>"
        raw = bytes(data)
        assert raw.count(mid.encode()) == 1
        week.append(WEEK)
        ids.append(f"K{i:05d}")
        mids.append(new_mid)
        recipients.append(recipient)
        subjects.append(subject)
        messages.append(raw.replace(mid.encode(), new_mid.encode()))
        htmls.append(html)
    batch = pa.table(
        {
            "week": week,
            "manager_id": ids,
            "message_id": mids,
            "recipient": recipients,
            "subject": subjects,
            "message": pa.array(messages, type=pa.binary()),
            "html": htmls,
            "nudge_count": pa.array([1] * len(ids), type=pa.int32()),
        }
    )
    assert enqueue_table(conn, batch) == len(ids)


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    # The last line may still be half-written: keep only complete ones.
    return path.read_text(encoding="ascii").split("\n")[:-1]


@pytest.mark.slow
def test_a_send_killed_half_way_resumes_and_only_in_flight_digests_can_arrive_twice(drop, tmp_path):
    total = 1500
    store = tmp_path / "retention.duckdb"
    conn = connect(store)
    queue_week(conn, drop, tmp_path)
    _fan_out(conn, total)
    expected = {r["message_id"] for r in rows(conn).values()}
    assert len(expected) == total
    conn.close()

    log = tmp_path / "received.log"
    sink = subprocess.Popen(
        [sys.executable, str(SINK_SCRIPT), "--port", "0", "--delay-ms", "5", "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    first: subprocess.Popen[bytes] | None = None
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
        env.update(
            RETENTION_STORE__PATH=str(store),
            RETENTION_DELIVERY__MODE="smtp",
            RETENTION_SMTP__HOST="127.0.0.1",
            RETENTION_SMTP__PORT=str(port),
            RETENTION_SMTP__TLS="none",
            RETENTION_SMTP__BACKOFF_BASE_S="0.01",
        )
        command = [sys.executable, "-c", "from pipelines.cli import main; main()", "send"]
        workdir = tmp_path / "cli"
        workdir.mkdir()

        first = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while len(_lines(log)) < total // 2:
            assert first.poll() is None, f"`retention send` ended before the kill: {first.stderr.read()!r}"
            assert time.monotonic() < deadline, "the sink never got half of the digests"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        if first.stderr is not None:
            first.stderr.close()

        conn = connect(store)
        outbox = rows(conn)
        conn.close()
        in_flight = {r["message_id"] for r in outbox.values() if r["state"] == "sending"}
        assert 0 < len(in_flight) <= 4 * CLAIM_SIZE  # the claims running ahead of the connections, no more

        second = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stderr
    finally:
        if first is not None and first.poll() is None:  # a failed assertion before the kill
            first.kill()
            first.wait(timeout=30)
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=30)
        if sink.stdout is not None:
            sink.stdout.close()

    counts = Counter(_lines(log))
    assert set(counts) == expected  # nothing lost, nothing foreign
    twice = {mid for mid, n in counts.items() if n > 1}
    assert twice <= in_flight
    conn = connect(store)
    assert set(states(conn).values()) == {"sent"}
    conn.close()



def test_a_weekly_run_in_smtp_mode_sends_its_digests(conn, drop, start_sink, tmp_path):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    sink = start_sink()
    report = run_week(conn, smtp_settings(tmp_path, sink), IsoWeek.parse(WEEK))
    assert report.digests_new > 0 and report.delivery == {"sent": report.digests_new}
    assert len(sink.received) == report.digests_new
    assert not (tmp_path / "outbox").exists()  # smtp mode writes no .eml files
