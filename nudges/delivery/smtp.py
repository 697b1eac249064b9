"""Send prepared messages over SMTP: reused connections, bounded concurrency, retries, a rate limit.

This module knows nothing of the store. `deliver` takes messages, sends them on
up to `max_connections` connections (each reused for up to
`messages_per_connection` messages), and reports one `Outcome` per message
through `on_outcome` as soon as it is known, so the caller can record it
before the next one. Classification follows the SMTP reply:

- accepted                       -> "sent"
- 5xx (sender, recipient, data)  -> "failed_permanent", with the server's reply
- 4xx, disconnect, reset, timeout -> retried with exponential backoff and jitter
  up to `max_attempts` in this call, then "deferred" for the next run

Server replies are kept for the operator with any address in them masked, so a
reply such as "550 <bob@example.com> unknown" never carries personal data into
the store, a log or the terminal.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosmtplib

SENT, DEFERRED, FAILED = "sent", "deferred", "failed_permanent"
_ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: str = "starttls"  # starttls | implicit | none
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0
    max_connections: int = 8
    messages_per_connection: int = 100
    rate_per_minute: float = 0.0  # 0: no limit
    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    cert_bundle: str | None = None  # a CA file to trust (a self-signed relay); None: the system's
    validate_certs: bool = True


@dataclass(frozen=True)
class Outgoing:
    """One message ready for the wire: the envelope and the exact bytes to send."""

    key: tuple[str, str]  # (ISO week, manager id): how the caller finds its row again
    sender: str
    recipient: str
    data: bytes


@dataclass(frozen=True)
class Outcome:
    key: tuple[str, str]
    state: str  # sent | deferred | failed_permanent
    attempts: int  # attempts made in this call
    error: str | None = None  # the last failure, addresses masked


class _Transient(Exception):
    """Worth another try: a 4xx reply or a broken connection."""


class _Permanent(Exception):
    """A 5xx reply to this message (or a message that cannot be put on the wire): trying again will not help."""


class _ServerRefused(Exception):
    """A 5xx at greeting, EHLO, STARTTLS or login: no message can go until an operator fixes the setup."""


def mask(text: str) -> str:
    """A server reply without any address in it."""
    return _ADDRESS.sub("<address>", text)[:300]


def classify(exc: Exception) -> Exception:
    """Map an aiosmtplib error to transient (retry) or permanent (record once).

    Anything else that a single message raises (an address that cannot be
    encoded, say) is permanent for that message: one bad row must never stop
    everyone else's mail or leave rows stuck in flight.
    """
    if isinstance(exc, _ServerRefused):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused is not None else 0
        reply = f"{code} {refused.message}" if refused is not None else str(exc)
        return (_Permanent if 500 <= code < 600 else _Transient)(mask(reply))
    if isinstance(exc, aiosmtplib.SMTPResponseException):  # sender refused, data error, helo, auth
        reply = f"{exc.code} {exc.message}"
        return (_Permanent if 500 <= exc.code < 600 else _Transient)(mask(reply))
    if isinstance(exc, (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError)):
        return _Transient(mask(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, UnicodeError):
        return _Permanent("the address or message is not ASCII and the server did not offer SMTPUTF8")
    return _Permanent(mask(f"cannot be sent: {type(exc).__name__}"))


class RateLimiter:
    """At most `per_minute` starts per minute, spread evenly (0 means unlimited)."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def backoff(attempt: int, config: SmtpConfig, rng: random.Random) -> float:
    """Exponential with full jitter: base * 2^(attempt-1), capped, times a random factor in [0.5, 1]."""
    delay = min(config.backoff_max_s, config.backoff_base_s * 2 ** (attempt - 1))
    return delay * (0.5 + rng.random() / 2)


def _tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    if config.tls == "none":
        return None
    context = ssl.create_default_context(cafile=config.cert_bundle)
    if not config.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Connection:
    """One SMTP session, opened on demand and replaced after a failure or its message quota."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.client: aiosmtplib.SMTP | None = None
        self.used = 0

    async def _open(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            timeout=c.timeout_s,
            use_tls=c.tls == "implicit",
            start_tls=c.tls == "starttls",
            tls_context=_tls_context(c),
        )
        try:
            await client.connect()
            if c.username:
                await client.login(c.username, c.password or "")
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            if 500 <= exc.code < 600:  # e.g. 535 wrong password: the same for every message
                raise _ServerRefused(mask(f"{exc.code} {exc.message}")) from None
            raise
        self.used = 0
        return client

    async def send(self, message: Outgoing) -> None:
        if self.client is None or self.used >= self.config.messages_per_connection:
            await self.close()
            self.client = await self._open()
        self.used += 1
        await self.client.sendmail(message.sender, [message.recipient], message.data)

    async def close(self, *, polite: bool = True) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if polite and client.is_connected:
                await client.quit()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            pass
        finally:
            client.close()


async def deliver(
    messages: Sequence[Outgoing],
    config: SmtpConfig,
    *,
    on_claim: Callable[[list[Outgoing]], Awaitable[None] | None] | None = None,
    on_outcomes: Callable[[list[Outcome]], Awaitable[None] | None] | None = None,
    claim_size: int = 64,
    flush_s: float = 0.05,
    seed: int | None = None,
) -> list[Outcome]:
    """Send every message once, at most `max_connections` at a time; one outcome per message.

    Messages are claimed in chunks of `claim_size`: `on_claim` is awaited
    before any message of the chunk is handed to a connection (the caller
    marks them in flight), and the claims run at most two chunks ahead of the
    connections. Outcomes reach `on_outcomes` in batches, at least every
    `flush_s` seconds and once more at the end. So if the process dies, the
    messages a resumed run sends a second time are only those the server
    accepted in the last `flush_s` before the crash (still "in flight" for the
    caller); claimed messages that were never sent were never seen by anyone.
    Either callback may be a coroutine function: its result is awaited, so the
    caller can do its bookkeeping off the event loop while connections keep sending.
    """
    step = max(1, claim_size)
    ready: asyncio.Queue[Outgoing | None] = asyncio.Queue(maxsize=2 * step)
    limiter = RateLimiter(config.rate_per_minute)
    rng = random.Random(seed)
    state = _RunState()
    outcomes: list[Outcome] = []
    unflushed: list[Outcome] = []
    connections = max(1, min(config.max_connections, len(messages)))

    async def claim() -> None:
        for start in range(0, len(messages), step):
            chunk = list(messages[start : start + step])
            if state.unreachable:
                # No point knocking on a closed door for every message: they wait for the next run.
                unflushed.extend(Outcome(m.key, DEFERRED, 0, state.unreachable) for m in chunk)
                continue
            await _call(on_claim, chunk)
            for message in chunk:
                await ready.put(message)
        for _ in range(connections):
            await ready.put(None)

    async def send() -> None:
        connection = _Connection(config)
        try:
            while (message := await ready.get()) is not None:
                unflushed.append(await _send_with_retries(connection, message, config, limiter, rng, state))
        finally:
            await connection.close()

    async def flush() -> None:
        batch = unflushed[:]
        del unflushed[: len(batch)]
        if batch:
            outcomes.extend(batch)
            await _call(on_outcomes, batch)

    async def keep_flushing(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), flush_s)
            except TimeoutError:
                pass
            await flush()

    stop = asyncio.Event()
    flusher = asyncio.create_task(keep_flushing(stop))
    try:
        await asyncio.gather(claim(), *(send() for _ in range(connections)))
    finally:
        stop.set()
        await flusher
        await flush()
    return outcomes


async def _call(callback: Callable[[Any], Awaitable[None] | None] | None, value: Any) -> None:
    if callback is not None:
        result = callback(value)
        if inspect.isawaitable(result):
            await result


@dataclass
class _RunState:
    """Shared by the workers of one `deliver` call."""

    unreachable: str | None = None  # why the rest of the run is deferred without trying
    broken_in_a_row: int = 0  # messages whose every attempt died at the connection, since the last success


async def _send_with_retries(
    connection: _Connection,
    message: Outgoing,
    config: SmtpConfig,
    limiter: RateLimiter,
    rng: random.Random,
    state: _RunState | None = None,
) -> Outcome:
    if state is not None and state.unreachable:
        return Outcome(message.key, DEFERRED, 0, state.unreachable)
    error = None
    connect_failures = broken = 0
    for attempt in range(1, config.max_attempts + 1):
        await limiter.wait()
        try:
            await connection.send(message)
            if state is not None:
                state.broken_in_a_row = 0
            return Outcome(message.key, SENT, attempt)
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            kind = classify(exc)
            error = str(kind)
            # A reply leaves the session usable (aiosmtplib resets it); anything else may have left
            # it mid-transaction, so the next message gets a fresh one.
            if not isinstance(exc, (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)):
                await connection.close(polite=False)
            if isinstance(kind, _ServerRefused):
                if state is not None:
                    state.unreachable = f"not attempted: the mail server refused the session ({error})"
                return Outcome(message.key, DEFERRED, attempt, error)
            if isinstance(kind, _Permanent):
                return Outcome(message.key, FAILED, attempt, error)
            connect_failures += isinstance(exc, (aiosmtplib.SMTPConnectError, ConnectionRefusedError))
            broken += not isinstance(exc, (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused))
            if attempt < config.max_attempts:
                await asyncio.sleep(backoff(attempt, config, rng))
    if state is not None and connect_failures == config.max_attempts:
        state.unreachable = f"not attempted: the mail server could not be reached ({error})"
    elif state is not None and broken == config.max_attempts:
        # A server that accepts connections and then stalls or hangs up on every message
        # (a tarpit, a TLS mismatch) would otherwise cost timeout x attempts per digest.
        state.broken_in_a_row += 1
        if state.broken_in_a_row >= config.max_connections:
            state.unreachable = f"not attempted: {state.broken_in_a_row} digests in a row failed at the connection ({error})"
    return Outcome(message.key, DEFERRED, config.max_attempts, error)
