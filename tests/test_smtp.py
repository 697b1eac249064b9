"""The SMTP engine on its own: reply classification, masking, backoff, the rate limit, connection use.

No store here: `deliver` is driven with hand-made messages against a real
aiosmtpd server in this process (tests/smtp_servers.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator

import aiosmtplib
import pytest

from nudges.delivery.smtp import (
    DEFERRED,
    FAILED,
    SENT,
    Outcome,
    Outgoing,
    RateLimiter,
    SmtpConfig,
    _Permanent,
    _Transient,
    backoff,
    classify,
    deliver,
    mask,
)
from tests.smtp_servers import RecordingHandler, SmtpSink


class FixedRandom(random.Random):
    """A Random whose random() always returns the same value: the jitter at its edges."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def outgoing(n: int) -> list[Outgoing]:
    return [
        Outgoing(
            key=("2026-W48", f"M{i:03d}"),
            sender="people@example.com",
            recipient=f"m{i:03d}@example.com",
            data=(
                f"From: people@example.com\r\nTo: m{i:03d}@example.com\r\nSubject: digest\r\n"
                f"Message-ID: <{i}.test@example.com>\r\n\r\nHello.\r\n"
            ).encode(),
        )
        for i in range(n)
    ]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(RecordingHandler()) as server:
        yield server


def config(sink: SmtpSink, **kwargs: object) -> SmtpConfig:
    return SmtpConfig(host=sink.host, port=sink.port, tls="none", backoff_base_s=0.01, **kwargs)  # type: ignore[arg-type]


# --- classify -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        aiosmtplib.SMTPDataError(451, "4.3.0 try again later"),
        aiosmtplib.SMTPSenderRefused(421, "4.7.0 too many connections", "people@example.com"),
        aiosmtplib.SMTPResponseException(452, "4.5.3 too many recipients"),
    ],
)
def test_a_4xx_reply_is_transient(exc):
    assert isinstance(classify(exc), _Transient)


@pytest.mark.parametrize(
    "exc",
    [
        aiosmtplib.SMTPDataError(554, "5.7.1 message refused"),
        aiosmtplib.SMTPSenderRefused(550, "5.7.1 sender not allowed", "people@example.com"),
        aiosmtplib.SMTPResponseException(552, "5.3.4 message too big"),
    ],
)
def test_a_5xx_reply_is_permanent(exc):
    assert isinstance(classify(exc), _Permanent)


def test_a_refused_recipient_is_classified_by_its_own_code():
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "5.1.1 <bob@example.com> unknown user", "bob@example.com")]
    )
    busy = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(450, "4.2.1 mailbox busy", "bob@example.com")]
    )
    permanent = classify(refused)
    assert isinstance(permanent, _Permanent)
    assert str(permanent).startswith("550") and "bob@example.com" not in str(permanent)
    assert isinstance(classify(busy), _Transient)


@pytest.mark.parametrize(
    "exc",
    [
        aiosmtplib.SMTPServerDisconnected("Connection lost"),
        aiosmtplib.SMTPConnectError("Error connecting to 127.0.0.1 on port 25"),
        aiosmtplib.SMTPTimeoutError("Timed out waiting for server response"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
    ],
)
def test_a_lost_connection_or_timeout_is_transient(exc):
    assert isinstance(classify(exc), _Transient)


def test_any_other_error_fails_only_that_message_and_says_no_more_than_its_type():
    result = classify(KeyError("bob@example.com"))
    assert isinstance(result, _Permanent) and str(result) == "cannot be sent: KeyError"


def test_an_address_that_cannot_be_encoded_is_permanent():
    assert isinstance(classify(UnicodeEncodeError("ascii", "josé", 3, 4, "x")), _Permanent)


# --- mask ---------------------------------------------------------------------------------------


def test_mask_removes_every_address_from_a_reply():
    reply = "550 5.1.1 <bob.smith+digests@mail.example.com>: unknown; also alice@example.org (forwarded)"
    masked = mask(reply)
    assert "@" not in masked
    assert masked.startswith("550 5.1.1") and "unknown" in masked


def test_mask_keeps_a_reply_short():
    assert len(mask("451 " + "x" * 1000)) == 300


# --- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_with_each_attempt():
    cfg = SmtpConfig(host="h", port=25, backoff_base_s=0.5, backoff_max_s=1000)
    top = FixedRandom(1.0)
    assert [backoff(a, cfg, top) for a in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped():
    cfg = SmtpConfig(host="h", port=25, backoff_base_s=0.5, backoff_max_s=3.0)
    assert backoff(10, cfg, FixedRandom(1.0)) == 3.0


def test_backoff_jitter_stays_between_half_and_the_full_delay():
    cfg = SmtpConfig(host="h", port=25, backoff_base_s=1.0, backoff_max_s=1000)
    assert backoff(3, cfg, FixedRandom(0.0)) == 2.0
    rng = random.Random(7)
    delays = [backoff(3, cfg, rng) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100  # actually jittered


# --- rate limit ---------------------------------------------------------------------------------


def test_the_rate_limit_spaces_starts_evenly():
    async def ten_starts() -> float:
        limiter = RateLimiter(600)  # one start every 0.1 s
        started = time.monotonic()
        for _ in range(10):
            await limiter.wait()
        return time.monotonic() - started

    assert asyncio.run(ten_starts()) >= 0.85


def test_the_rate_limit_holds_across_concurrent_senders():
    async def ten_starts() -> float:
        limiter = RateLimiter(600)
        started = time.monotonic()
        await asyncio.gather(*(limiter.wait() for _ in range(10)))
        return time.monotonic() - started

    assert asyncio.run(ten_starts()) >= 0.85


def test_no_rate_limit_means_no_waiting():
    async def many_starts() -> float:
        limiter = RateLimiter(0)
        started = time.monotonic()
        for _ in range(1000):
            await limiter.wait()
        return time.monotonic() - started

    assert asyncio.run(many_starts()) < 0.5


# --- deliver against a real server -------------------------------------------------------------


def test_deliver_sends_every_message_once_and_reports_each_outcome(sink):
    messages = outgoing(20)
    outcomes = asyncio.run(deliver(messages, config(sink)))

    assert sorted(o.key for o in outcomes) == sorted(m.key for m in messages)
    assert {(o.state, o.attempts) for o in outcomes} == {(SENT, 1)}
    assert Counter(sink.message_ids()) == Counter({f"<{i}.test@example.com>": 1 for i in range(20)})


def test_deliver_uses_several_connections_at_once(sink):
    asyncio.run(deliver(outgoing(16), config(sink, max_connections=4), claim_size=1))

    assert len(sink.mail_connections()) == 4
    assert len(sink.received) == 16


def test_deliver_reconnects_after_messages_per_connection(sink):
    asyncio.run(deliver(outgoing(6), config(sink, max_connections=1, messages_per_connection=2)))

    per_connection = Counter(r.connection for r in sink.received)
    assert sorted(per_connection.values()) == [2, 2, 2]


def test_deliver_claims_messages_before_the_server_sees_them(sink):
    seen_at_claim: list[set[str | None]] = []
    claimed: list[set[str | None]] = []

    def on_claim(chunk: list[Outgoing]) -> None:
        claimed.append({f"<{int(m.key[1][1:])}.test@example.com>" for m in chunk})
        seen_at_claim.append(set(sink.message_ids()))

    asyncio.run(deliver(outgoing(24), config(sink, max_connections=2), on_claim=on_claim, claim_size=4))

    assert set().union(*claimed) == set(sink.message_ids())
    assert all(not (chunk & seen) for chunk, seen in zip(claimed, seen_at_claim, strict=True))


def test_deliver_reports_every_outcome_once_in_timed_batches(sink):
    batches: list[list[Outcome]] = []
    asyncio.run(deliver(outgoing(40), config(sink, max_connections=2), on_outcomes=batches.append, flush_s=0.005))
    keys = [o.key for batch in batches for o in batch]
    assert len(keys) == len(set(keys)) == 40
    assert len(batches) > 1  # recorded as the send goes, not only at the end


def test_deliver_defers_after_max_attempts_of_a_busy_server():
    with SmtpSink(RecordingHandler(always_451=True)) as busy:
        outcomes = asyncio.run(deliver(outgoing(3), config(busy, max_attempts=3)))

    assert {(o.state, o.attempts) for o in outcomes} == {(DEFERRED, 3)}
    assert all(o.error and o.error.startswith("451") for o in outcomes)
    assert busy.handler.data_commands == 9


def test_deliver_records_a_5xx_once_without_retrying():
    with SmtpSink(RecordingHandler(reject={"m001@example.com": "550 5.1.1 <m001@example.com> unknown"})) as picky:
        outcomes = {o.key[1]: o for o in asyncio.run(deliver(outgoing(3), config(picky)))}

    assert (outcomes["M001"].state, outcomes["M001"].attempts) == (FAILED, 1)
    assert outcomes["M001"].error is not None and "@" not in outcomes["M001"].error
    assert {outcomes["M000"].state, outcomes["M002"].state} == {SENT}
    assert len(picky.received) == 2


def test_deliver_fails_only_the_message_whose_address_cannot_be_sent(sink):
    """aiosmtplib raises UnicodeEncodeError for a non-ASCII mailbox without SMTPUTF8: one bad address, one outcome."""
    messages = outgoing(3)
    messages[1] = Outgoing(messages[1].key, messages[1].sender, "josé@example.com", messages[1].data)

    outcomes = {o.key[1]: o.state for o in asyncio.run(deliver(messages, config(sink)))}

    assert outcomes["M001"] in {FAILED, DEFERRED}
    assert outcomes["M000"] == outcomes["M002"] == SENT


def test_a_server_that_accepts_connections_but_never_answers_does_not_stall_the_run():
    """A tarpit costs timeout x attempts for a few digests, then the rest are deferred untried."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept_and_ignore() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_ignore, daemon=True)
    thread.start()
    try:
        tarpit = SmtpConfig(
            host="127.0.0.1",
            port=listener.getsockname()[1],
            tls="none",
            timeout_s=0.2,
            max_connections=2,
            max_attempts=2,
            backoff_base_s=0.01,
        )
        started = time.monotonic()
        outcomes = asyncio.run(deliver(outgoing(40), tarpit))
        elapsed = time.monotonic() - started
    finally:
        done.set()
        thread.join()
        for sock in held:
            sock.close()
        listener.close()
    assert {o.state for o in outcomes} == {DEFERRED} and len(outcomes) == 40
    assert sum(o.attempts == 0 for o in outcomes) >= 30  # most never tried
    assert elapsed < 5  # 40 x 2 attempts x 0.2 s would be 16 s on one connection
