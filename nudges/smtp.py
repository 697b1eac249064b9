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
import random
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    """A 5xx reply: trying again will not help."""


def mask(text: str) -> str:
    """A server reply without any address in it."""
    return _ADDRESS.sub("<address>", text)[:300]


def classify(exc: Exception) -> Exception:
    """Map an aiosmtplib error to transient (retry) or permanent (record once)."""
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
    return exc


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
        await client.connect()
        if c.username:
            await client.login(c.username, c.password or "")
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
    on_claim: Callable[[list[Outgoing]], None] | None = None,
    on_outcomes: Callable[[list[Outcome]], None] | None = None,
    claim_size: int = 8,
    seed: int | None = None,
) -> list[Outcome]:
    """Send every message once, at most `max_connections` at a time; one outcome per message.

    Each connection takes up to `claim_size` messages at a time: `on_claim` is
    called before any of them is sent (the caller marks them in flight) and
    `on_outcomes` once they are all settled (the caller records them). A crash
    between the two leaves at most `claim_size` messages per connection in
    flight: those are the only ones a resumed run may send a second time.
    """
    queue: asyncio.Queue[Outgoing] = asyncio.Queue()
    for message in messages:
        queue.put_nowait(message)
    limiter = RateLimiter(config.rate_per_minute)
    rng = random.Random(seed)
    outcomes: list[Outcome] = []

    def take() -> list[Outgoing]:
        chunk: list[Outgoing] = []
        while len(chunk) < max(1, claim_size) and not queue.empty():
            chunk.append(queue.get_nowait())
        return chunk

    state = _RunState()

    async def worker() -> None:
        connection = _Connection(config)
        try:
            while chunk := take():
                if state.unreachable:
                    # No point knocking on a closed door for every message: they wait for the next run.
                    settled = [Outcome(m.key, DEFERRED, 0, state.unreachable) for m in chunk]
                    outcomes.extend(settled)
                    if on_outcomes is not None:
                        on_outcomes(settled)
                    continue
                if on_claim is not None:
                    on_claim(chunk)
                settled = [await _send_with_retries(connection, m, config, limiter, rng, state) for m in chunk]
                outcomes.extend(settled)
                if on_outcomes is not None:
                    on_outcomes(settled)
        finally:
            await connection.close()

    workers = max(1, min(config.max_connections, len(messages)))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return outcomes


@dataclass
class _RunState:
    """Shared by the workers of one `deliver` call."""

    unreachable: str | None = None  # set when a message could not even connect on any attempt


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
    connect_failures = 0
    for attempt in range(1, config.max_attempts + 1):
        await limiter.wait()
        try:
            await connection.send(message)
            return Outcome(message.key, SENT, attempt)
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            kind = classify(exc)
            if not isinstance(kind, (_Transient, _Permanent)):
                await connection.close(polite=False)
                raise
            error = str(kind)
            if isinstance(kind, _Permanent):
                return Outcome(message.key, FAILED, attempt, error)
            connect_failures += isinstance(exc, (aiosmtplib.SMTPConnectError, ConnectionRefusedError))
            # A 4xx reply leaves the session usable (aiosmtplib resets it); a broken one is replaced.
            if not isinstance(exc, (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)):
                await connection.close(polite=False)
            if attempt < config.max_attempts:
                await asyncio.sleep(backoff(attempt, config, rng))
    if state is not None and connect_failures == config.max_attempts:
        state.unreachable = f"not attempted: the mail server could not be reached ({error})"
    return Outcome(message.key, DEFERRED, config.max_attempts, error)
