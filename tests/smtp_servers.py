"""Real SMTP servers for the delivery tests and the benchmark: aiosmtpd on 127.0.0.1, with faults on demand.

`SmtpSink` runs an aiosmtpd `Controller` in a thread on a free port. Its
`RecordingHandler` keeps every accepted message (raw bytes, Message-ID,
envelope) and can misbehave the ways real relays do:

- `fail_first_451`: the first DATA of each Message-ID gets 451, later ones are accepted;
- `always_451`: every DATA gets 451 (a relay that stays busy); flip it off to heal it;
- `reject={"addr@x": "550 ..."}`: RCPT for that address gets the reply;
- `drop_mid_data=N`: the first N DATA commands lose the connection after the
  data arrived and before any reply (the client cannot know whether it was taken);
- `delay_s`: a sleep before every reply (a slow or distant relay);
- STARTTLS with a self-signed certificate (`make_self_signed`), required before MAIL.

Run as a script it is a sink in its own process, for the kill test and the benchmark:

    python tests/smtp_servers.py --port 0 [--delay-ms 20] [--log FILE]

It prints the port on stdout once it accepts connections and appends each
accepted Message-ID to FILE, one per line, flushed at once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import re
import signal
import ssl
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def message_id_of(data: bytes) -> str | None:
    """The Message-ID header of raw message bytes (headers only, unfolded); None if absent."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    if match is None:
        return None
    return re.sub(rb"\s+", b" ", match.group(1)).strip().decode("ascii", "replace")


@dataclass(frozen=True)
class Received:
    """One message the server accepted (said 250 to)."""

    message_id: str | None
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    connection: int  # which TCP connection carried it (1, 2, ... in order of arrival)
    tls: bool  # whether the session had switched to TLS


class RecordingHandler:
    """Accepts and records messages, or fails them on purpose; safe to read from the test's thread."""

    def __init__(
        self,
        *,
        fail_first_451: bool = False,
        always_451: bool = False,
        reject: Mapping[str, str] | None = None,
        drop_mid_data: int = 0,
        keep_data: bool = True,
        log: IO[str] | None = None,
    ) -> None:
        self.fail_first_451 = fail_first_451
        self.always_451 = always_451
        self.reject = {k.lower(): v for k, v in (reject or {}).items()}
        self.drops_left = drop_mid_data
        self.keep_data = keep_data
        self.log = log
        self.data_commands = 0  # every DATA that got to the end of its data, accepted or not
        self.drops = 0
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._seen_451: set[str] = set()

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def message_ids(self) -> list[str | None]:
        return [r.message_id for r in self.received]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        # Implementing this hook means aiosmtpd no longer records the recipient itself.
        reply = self.reject.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mid = message_id_of(content)
        with self._lock:
            self.data_commands += 1
            drop = self.drops_left > 0
            if drop:
                self.drops_left -= 1
                self.drops += 1
            busy = self.always_451 or (self.fail_first_451 and mid not in self._seen_451)
            if self.fail_first_451 and mid is not None:
                self._seen_451.add(mid)
        if drop:
            # Abrupt: no reply, the socket is reset; connection_lost() then cancels this coroutine.
            transport = getattr(server, "_original_transport", None) or server.transport
            if transport is not None:
                transport.abort()
            await asyncio.sleep(5)
            return "421 4.4.2 closing"  # not reached in practice: the session is gone
        if busy:
            return "451 4.3.0 Mailbox busy, try again later"
        received = Received(
            message_id=mid,
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(content) if self.keep_data else b"",
            connection=getattr(server, "connection_number", 0),
            tls=session.ssl is not None,
        )
        with self._lock:
            self._received.append(received)
            if self.log is not None:
                self.log.write(f"{mid}\n")
                self.log.flush()
        return "250 2.0.0 OK queued"


class _SinkSMTP(SMTP):
    """aiosmtpd's SMTP session, with an optional delay before every reply."""

    delay_s: float = 0.0
    connection_number: int = 0

    async def push(self, status: Any) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        await super().push(status)


class _SinkController(Controller):
    """A Controller that binds a free port and builds `_SinkSMTP` sessions numbered in order."""

    def __init__(self, handler: RecordingHandler, *, port: int, delay_s: float, **smtp_kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=port, server_hostname="sink.test", **smtp_kwargs)
        self.delay_s = delay_s
        self.connections = 0  # includes the Controller's own start-up probe

    def factory(self) -> SMTP:
        self.connections += 1
        smtp = _SinkSMTP(self.handler, **self.SMTP_kwargs)
        smtp.delay_s = self.delay_s
        smtp.connection_number = self.connections
        return smtp

    def _create_server(self) -> Any:
        async def create() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
            )
            # Port 0 asks the OS for a free one: learn it before start() probes the server.
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def make_self_signed(folder: Path, *, common_name: str = "sink.test") -> TlsFiles:
    """A key and a self-signed certificate valid for IP 127.0.0.1 and localhost, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(cert=folder / "sink-cert.pem", key=folder / "sink-key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def server_tls_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # server side: no client certificates
    context.load_cert_chain(files.cert, files.key)
    return context


class SmtpSink:
    """A real SMTP server in a background thread; use as a context manager.

    With `tls`, STARTTLS is offered and required before MAIL (aiosmtpd's
    `require_starttls`), like a submission relay.
    """

    def __init__(
        self,
        handler: RecordingHandler | None = None,
        *,
        port: int = 0,
        delay_s: float = 0.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.handler = handler or RecordingHandler()
        kwargs: dict[str, Any] = {}
        if tls is not None:
            kwargs.update(tls_context=server_tls_context(tls), require_starttls=True)
        self._controller = _SinkController(self.handler, port=port, delay_s=delay_s, **kwargs)
        self.host = HOST

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def message_ids(self) -> list[str | None]:
        return self.handler.message_ids()

    def mail_connections(self) -> set[int]:
        """The connections that carried at least one accepted message."""
        return {r.connection for r in self.received}

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """A sink in its own process: print the port when ready, log Message-IDs, stop on SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="sleep before every SMTP reply")
    parser.add_argument("--log", type=Path, help="append each accepted Message-ID to this file")
    args = parser.parse_args(argv)
    log = args.log.open("a", encoding="ascii", buffering=1) if args.log else None
    # Bodies are not kept: a benchmark pushes hundreds of megabytes through.
    sink = SmtpSink(RecordingHandler(keep_data=False, log=log), port=args.port, delay_s=args.delay_ms / 1000)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with sink:
        print(sink.port, flush=True)
        while not stop.wait(0.5):
            pass
    if log is not None:
        log.close()


if __name__ == "__main__":
    main(sys.argv[1:])
