"""Turn a manager's picks into a digest: words, templates, and an RFC 5322 message.

Templates live in the top-level `templates/` folder (Jinja2, autoescaped HTML,
strict about undefined names). Phrasing is chosen deterministically per person,
kind and week, so re-rendering a week gives the same message and consecutive
weeks do not read like a form letter.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import getaddresses
from pathlib import Path

import jinja2
import numpy as np

from core.errors import RenderError
from core.templating import environment
from nudges.bands import bands
from nudges.catalog import NudgeKind
from nudges.evidence import describe
from nudges.select import Pick

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")




@dataclass(frozen=True)
class Identity:
    """Who digests come from, as HR configured it."""

    sender: str
    reply_to: str
    unsubscribe: str
    organisation: str
    display: str = "hidden"  # hidden | band | score


@dataclass(frozen=True)
class Contact:
    """A person as the digest may name them: never more than a name and an address."""

    employee_id: str
    name: str | None
    email: str | None


@dataclass(frozen=True)
class ItemView:
    name: str
    title: str
    action: str
    question: str
    evidence: str
    why: str
    skip_level: bool
    band: str


@dataclass(frozen=True)
class Digest:
    week: str
    manager_id: str
    recipient: str  # the formatted To: header value
    subject: str
    text: str
    html: str
    message_id: str
    nudge_count: int


def choose(options: Sequence[str], *key: str, turn: int = 0) -> str:
    """The same option for the same key, spread evenly across keys; `turn` steps to the next ones."""
    digest = hashlib.sha256("\x1f".join(key).encode("utf-8")).digest()
    return options[(int.from_bytes(digest[:8], "big") + turn) % len(options)]


def clean_display_name(name: str | None) -> str:
    """A name safe for a header: no control characters, no line breaks, bounded length."""
    return _CONTROL.sub(" ", name or "").strip()[:100]


def first_name(contact: Contact) -> str:
    tokens = [t.strip(",;.") for t in clean_display_name(contact.name).split()]
    tokens = [t for t in tokens if t]
    return tokens[0] if tokens else "them"


def _band(risk: float, display: str, threshold: float) -> str:
    if display == "score":
        return f"Priority score: {risk:.2f}"
    if display == "band":
        return f"Priority: {bands(np.array([risk]), threshold)[0]}"
    return ""


def item_view(
    pick: Pick,
    kind: NudgeKind,
    contact: Contact,
    *,
    week: str,
    display: str,
    threshold: float,
    kinds: Mapping[str, NudgeKind] | None = None,
    anchor: str | None = None,
    turn: int = 0,
) -> ItemView:
    """One person's nudge in words.

    Phrasing is keyed on (person, kind, week). When a digest holds the same kind
    for several people, the later ones take the next phrasings after the first
    one's (`anchor` is that first person, `turn` their place), so one email never
    says the same sentence twice.
    """
    key = (anchor or pick.employee_id, kind.id, week)
    first = first_name(contact)
    also = [kinds[k].evidence for k in pick.also if k in kinds] if kinds else []
    return ItemView(
        name=clean_display_name(contact.name) or f"Employee {contact.employee_id}",
        title=kind.title,
        action=choose(kind.actions, *key, "action", turn=turn).format(first_name=first),
        question=choose(kind.questions, *key, "question", turn=turn),
        evidence=describe(kind.evidence, pick.evidence, also=also),
        why=choose(kind.why, *key, "why", turn=turn),
        skip_level=pick.skip_level,
        band=_band(pick.risk, display, threshold),
    )


def message_id(week: str, manager_id: str, identity: Identity) -> str:
    """Stable per (week, manager): a resend carries the same id so receivers can de-duplicate."""
    token = hashlib.sha256(f"{week}\x1f{manager_id}".encode()).hexdigest()[:32]
    return f"<{token}.{week.lower()}@{sender_domain(identity)}>"


def sender_domain(identity: Identity) -> str:
    addresses = getaddresses([identity.sender])
    if not addresses or "@" not in addresses[0][1]:
        raise RenderError(f"[email] sender {identity.sender!r} is not an email address")
    return addresses[0][1].rsplit("@", 1)[1]


def recipient_header(contact: Contact) -> str:
    if not contact.email:
        raise RenderError(f"manager {contact.employee_id} has no email address")
    try:
        local, _, domain = contact.email.strip().rpartition("@")
        address = Address(display_name=clean_display_name(contact.name), username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise RenderError(f"manager {contact.employee_id} has an unusable email address") from exc
    if not local or not domain or _CONTROL.search(contact.email):
        raise RenderError(f"manager {contact.employee_id} has an unusable email address")
    return str(address)


def render_digest(
    *,
    week: str,
    manager: Contact,
    picks: Sequence[Pick],
    kinds: Mapping[str, NudgeKind],
    contacts: Mapping[str, Contact],
    identity: Identity,
    threshold: float,
    folder: Path | None = None,
    credit: str | None = None,
) -> Digest:
    """One manager's digest, text and HTML carrying the same nudges.

    `credit` is one line thanking the manager for following through on earlier
    nudges (nudges.followthrough.credit_line); it opens the digest.
    """
    anchors: dict[str, str] = {}
    turns: Counter[str] = Counter()
    items = []
    for p in picks:
        anchors.setdefault(p.kind, p.employee_id)
        items.append(
            item_view(
                p,
                kinds[p.kind],
                contacts.get(p.employee_id, Contact(p.employee_id, None, None)),
                week=week,
                display=identity.display,
                threshold=threshold,
                kinds=kinds,
                anchor=anchors[p.kind],
                turn=turns[p.kind],
            )
        )
        turns[p.kind] += 1
    count = len(items)
    subject = (
        f"This week: {count} {'person' if count == 1 else 'people'} on your team to back"
        if count
        else "This week: nothing needs your attention"
    )
    context = {
        "subject": subject,
        "week": week,
        "organisation": identity.organisation,
        "headline": f"Hi {first_name(manager) if manager.name else 'there'}, here is your week with your team",
        "intro": (
            "A few small things you could do this week for people doing strong work. Each takes minutes."
            " They are suggestions drawn from everyday signals such as recognition, 1:1s and learning,"
            " not verdicts: you know your people best."
            if count
            else "Nothing stands out this week. Keep doing what you are doing."
        ),
        "items": items,
        "credit": credit or "",
        "footer": (
            "Why you got this: you manage people doing strong work, and small, regular gestures help them"
            " grow with you. No individual survey answers or private messages are ever shown here."
        ),
        "unsubscribe": identity.unsubscribe,
    }
    env = environment(folder)
    try:
        text = env.get_template("digest.txt").render(context)
        html = env.get_template("digest.html").render(context)  # CSS already inlined into the template
    except jinja2.TemplateError as exc:
        raise RenderError(f"digest template failed: {exc}") from exc
    return Digest(
        week=week,
        manager_id=manager.employee_id,
        recipient=recipient_header(manager),
        subject=subject,
        text=text,
        html=html,
        message_id=message_id(week, manager.employee_id, identity),
        nudge_count=count,
    )
