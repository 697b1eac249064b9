"""Digest bytes written directly parse to the same message the standard library builds."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.errors import RenderError
from nudges.mime import build_message, digest_bytes
from nudges.render import Contact, Digest, Identity, recipient_header

IDENTITY = Identity(
    sender="People Team <people@example.com>",
    reply_to="hr@example.com",
    unsubscribe="mailto:unsubscribe@example.com",
    organisation="Example",
)
WHEN = 1_764_000_000.0


def digest(**changes: object) -> Digest:
    base = {
        "week": "2026-W48",
        "manager_id": "M1",
        "recipient": "Mina Okafor <mina@example.com>",
        "subject": "This week: 2 people on your team to back",
        "text": "Hi Mina,\n\nTwo people.\n",
        "html": "<html><body><p>Hi Mina</p></body></html>",
        "message_id": "<abc.2026-w48@example.com>",
        "nudge_count": 2,
    }
    base.update(changes)
    return Digest(**base)  # type: ignore[arg-type]


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_same_message(d: Digest, identity: Identity = IDENTITY) -> bytes:
    """Headers read back as written (or as the standard library writes them); bodies read back exactly.

    Headers are compared with the input rather than the reference: the standard library
    folds a long non-ASCII display name into words that read back with an extra space.
    """
    ours = digest_bytes(d, identity, date=WHEN)
    reference = parse(build_message(d, identity, date=WHEN).as_bytes(policy=policy.SMTP))
    mine = parse(ours)
    assert str(mine["Subject"]) == d.subject
    for name in ("From", "Reply-To", "Date", "Message-ID", "List-Unsubscribe", "Auto-Submitted"):
        assert str(mine[name]) == str(reference[name]), name
    (display, address), = getaddresses([d.recipient])
    (to,) = mine["To"].addresses
    assert (to.display_name, to.addr_spec) == (display, address)
    assert mine.get_content_type() == "multipart/alternative"
    for kind, body in (("plain", d.text), ("html", d.html)):
        # The body as written, line by line, with the final newline a text part always has. On the wire
        # text lines end in CRLF; Python hands them back as CRLF or LF depending on the transfer encoding.
        expected = body.replace("\r\n", "\n").replace("\r", "\n")
        expected += "" if expected.endswith("\n") else "\n"
        assert mine.get_body((kind,)).get_content().replace("\r\n", "\n") == expected, kind
    return ours


def test_a_plain_digest_parses_to_the_reference_message():
    data = assert_same_message(digest())
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_every_line_fits_the_smtp_limit():
    long_text = ("word " * 400) + "\n" + ("x" * 2000) + "\n"
    data = assert_same_message(digest(text=long_text, html="<p>" + "y" * 5000 + "</p>"))
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_non_ascii_names_and_subjects_are_encoded_words():
    manager = Contact("M1", "Chloé Ñúñez, Jr.", "chloe@example.com")
    d = digest(recipient=recipient_header(manager), subject="This week: café 2 people — back them")
    data = assert_same_message(d)
    assert data.isascii()


def test_a_non_ascii_address_goes_through_the_standard_library():
    data = assert_same_message(digest(recipient="Zoë <zoë@exämple.com>"))
    assert b'boundary="=_' not in data  # the standard library's boundary, not ours


def test_a_line_break_in_a_header_is_refused():
    with pytest.raises(RenderError):
        digest_bytes(digest(subject="hi\r\nBcc: evil@example.com"), IDENTITY, date=WHEN)


def test_the_same_digest_gives_the_same_bytes():
    assert digest_bytes(digest(), IDENTITY, date=WHEN) == digest_bytes(digest(), IDENTITY, date=WHEN)


BODY = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=400)
# Unicode spaces other than " " are left out of names: Python's parser collapses them when it decodes a
# display name written as one encoded word (ours) but not when written word by word (the reference), a
# difference in the reader, not in the bytes.
NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), whitelist_characters=" "), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(text=BODY, html=BODY, name=NAME, subject=NAME)
# Found in CI: the standard library sends this as base64, which Python reads back with LF line ends,
# and our quoted-printable with CRLF: bodies are compared line by line with what was written.
@example(text="", html="0" + "\x80" * 22 + "\u0800" * 12, name="0", subject="0")
def test_any_body_name_and_subject_survive_the_round_trip(text, html, name, subject):
    recipient = recipient_header(Contact("M1", name, "mina@example.com"))
    assert_same_message(digest(text=text, html=html, recipient=recipient, subject=subject.strip() or "x"))
