"""Digest messages as RFC 5322 bytes, written directly.

`email.message.EmailMessage` parses every header it is given and encodes
bodies in pure Python: about 3 ms a digest, which at 100k employees was most of
the weekly run. A digest always has the same shape (a handful of headers, a
text part and an HTML part), so we write that shape ourselves: bodies go
through `binascii.b2a_qp` (C), headers are plain ASCII or RFC 2047 encoded.
Anything outside the shapes handled here (an address that is not ASCII, a
recipient list) goes through the standard library instead, and a test checks
both paths parse to the same message.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, getaddresses

from core.errors import RenderError
from nudges.render import Digest, Identity

ADDRESS_HEADERS = frozenset({"from", "to", "reply-to"})
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_LINE = 78


class _Unusual(Exception):
    """A header the direct writer does not handle: use the standard library."""


def digest_bytes(digest: Digest, identity: Identity, *, date: float | None = None) -> bytes:
    """The digest as bytes ready for SMTP (CRLF line ends), multipart/alternative: text, then HTML."""
    headers = digest_headers(digest, identity, date=date)
    try:
        head = b"".join(_header(name, value) for name, value in headers)
    except _Unusual:
        return build_message(digest, identity, date=date).as_bytes(policy=SMTP)
    boundary = "=_" + hashlib.sha256(digest.message_id.encode("utf-8")).hexdigest()[:28]
    # "=_" never occurs in quoted-printable output, so the boundary cannot clash with a body.
    marker = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            head,
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii"),
            marker,
            _part("plain", digest.text),
            marker,
            _part("html", digest.html),
            f"--{boundary}--\r\n".encode("ascii"),
        )
    )


def digest_headers(digest: Digest, identity: Identity, *, date: float | None = None) -> list[tuple[str, str]]:
    """The headers every digest carries, in order."""
    return [
        ("Subject", digest.subject),
        ("From", identity.sender),
        ("To", digest.recipient),
        ("Reply-To", identity.reply_to),
        ("Date", formatdate(date, localtime=False, usegmt=True)),
        ("Message-ID", digest.message_id),
        ("List-Unsubscribe", f"<{identity.unsubscribe}>"),
        ("Auto-Submitted", "auto-generated"),
    ]


def _header(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:
        # Render refuses these earlier; here it is the last line of defence against header injection.
        raise RenderError(f"the {name} header contains a line break")
    if _CONTROL.search(value):
        raise _Unusual
    if value.isascii():
        return _fold(f"{name}: {value}").encode("ascii")
    if name.lower() in ADDRESS_HEADERS:
        pairs = getaddresses([value])
        if len(pairs) != 1 or not pairs[0][1] or not pairs[0][1].isascii():
            raise _Unusual
        display, address = pairs[0]
        return (f"{name}: " + formataddr((display, address), charset="utf-8") + "\r\n").encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def _fold(line: str) -> str:
    """Fold an ASCII header line at spaces so lines stay within 78 characters where they can."""
    if len(line) <= _MAX_LINE:
        return line + "\r\n"
    out: list[str] = []
    current = ""
    for word in re.split(r"(?= )", line):
        if current and len(current) + len(word) > _MAX_LINE:
            out.append(current)
            current = word
        else:
            current += word
    out.append(current)
    return "\r\n".join(out) + "\r\n"


def _part(subtype: str, body: str) -> bytes:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    ).encode("ascii") + encoded + b"\r\n"  # the line break before a boundary belongs to the boundary


def build_message(digest: Digest, identity: Identity, *, date: float | None = None) -> EmailMessage:
    """The same message through the standard library: the reference, and the path for unusual headers."""
    message = EmailMessage()
    for name, value in digest_headers(digest, identity, date=date):
        message[name] = value
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    return message
