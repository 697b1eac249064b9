"""Digests as a manager receives them: every kind renders, phrasing is stable, HTML is sound, headers are safe."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from core.errors import RenderError
from nudges.catalog import load_catalog
from nudges.mime import build_message
from nudges.render import Contact, Identity, render_digest
from nudges.select import Pick

IDENTITY = Identity(
    sender="Nudges <nudges@example.com>",
    reply_to="people@example.com",
    unsubscribe="https://example.com/unsubscribe",
    organisation="Example Corp",
)
EVIDENCE = {
    "days_since_recognition": 80.0,
    "ever_recognised": 1.0,
    "recognition_90d": 2.0,
    "givers_90d": 1.0,
    "one_on_ones_last4": 4.0,
    "one_on_ones_missed_last4": 3.0,
    "one_on_ones_held_90d": 1.0,
    "days_since_career_talk": 200.0,
    "ever_career_talk": 1.0,
    "days_since_goals_talk": 240.0,
    "ever_goals_talk": 0.0,
    "days_since_learning": 300.0,
    "learning_180d": 0.0,
    "tenure_days": 900.0,
}
KINDS = load_catalog().by_id()
MANAGER = Contact("M1", "Mina Manager", "mina@example.com")


def digest(kind: str, *, person: str = "E1", name: str = "Ada Lovelace", week: str = "2026-W48", **identity: str):
    also = ("recognition_gap", "one_on_one_lapse", "career_conversation") if kind == "engagement_plan" else ()
    pick = Pick(person, "M1", kind, False, 0.5, 0.5, EVIDENCE, also)
    contacts = {person: Contact(person, name, f"{person.lower()}@example.com")}
    who = Identity(**{**IDENTITY.__dict__, **identity})
    return render_digest(week=week, manager=MANAGER, picks=[pick], kinds=KINDS, contacts=contacts, identity=who, threshold=0.3)


class Balance(HTMLParser):
    """Every element that must close does, in order; no scripts, no external resources."""

    VOID = {"meta", "br", "img", "hr", "link", "input", "col", "area", "base", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.problems.append("script")
        for name, value in attrs:
            if name in ("src", "srcset") or (tag == "link" and name == "href"):
                self.problems.append(f"external resource {value}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_catalog_kind_renders_with_every_section_filled(kind):
    d = digest(kind)
    for label in ("This week:", "Ask them:", "What we noticed:", "Why it matters:"):
        line = next(text for text in d.text.splitlines() if label in text)
        assert len(line.split(label, 1)[1].strip(' ".')) > 10, (kind, label)
    assert KINDS[kind].title in d.text and "Ada Lovelace" in d.html


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_html_is_well_formed_with_no_scripts_or_external_resources(kind):
    checker = Balance()
    checker.feed(digest(kind).html)
    assert checker.problems == [] and checker.stack == []


def test_phrasing_is_the_same_for_the_same_person_kind_and_week():
    assert digest("career_conversation").text == digest("career_conversation").text


def test_phrasing_varies_across_people_so_digests_do_not_read_like_a_form():
    actions = {
        re.search(r"This week: (.*)", digest("recognition_gap", person=f"E{i}", name="Sam Doe").text).group(1)
        for i in range(20)
    }
    assert len(actions) >= 3


@pytest.mark.parametrize(("risk", "band"), [(0.35, "elevated"), (0.6, "high")])
def test_display_band_names_the_same_band_as_the_hr_summary(risk, band):
    pick = Pick("E1", "M1", "recognition_gap", False, risk, risk, EVIDENCE)
    who = Identity(**{**IDENTITY.__dict__, "display": "band"})
    d = render_digest(week="2026-W48", manager=MANAGER, picks=[pick], kinds=KINDS, contacts={}, identity=who, threshold=0.3)
    assert f"Priority: {band}" in d.text


def test_one_digest_never_repeats_a_sentence_for_people_with_the_same_kind():
    picks = [Pick(f"E{i}", "M1", "recognition_gap", False, 0.5, 0.5, EVIDENCE) for i in range(3)]
    contacts = {p.employee_id: Contact(p.employee_id, "Sam Doe", None) for p in picks}
    d = render_digest(
        week="2026-W48", manager=MANAGER, picks=picks, kinds=KINDS, contacts=contacts, identity=IDENTITY, threshold=0.3
    )
    for label in ("This week:", "Ask them:"):
        lines = [line for line in d.text.splitlines() if label in line]
        assert len(lines) == 3 and len(set(lines)) == 3, label


def test_the_engagement_plan_lists_what_came_together():
    text = digest("engagement_plan").text
    assert "several things at once" in text.lower() and "last recognised" in text


@pytest.mark.parametrize("display", ["hidden", "band", "score"])
def test_display_decides_whether_any_sign_of_the_score_appears(display):
    text = digest("recognition_gap", display=display).text
    assert bool(re.search(r"priority|0\.\d\d", text, flags=re.I)) == (display != "hidden")


def test_a_name_with_markup_is_escaped_in_html():
    html = digest("recognition_gap", name='<script>alert("x")</script> Eve').html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_name_with_line_breaks_cannot_add_a_header():
    manager = Contact("M1", "Mina\r\nBcc: evil@example.com", "mina@example.com")
    pick = Pick("E1", "M1", "recognition_gap", False, 0.5, 0.5, EVIDENCE)
    d = render_digest(week="2026-W48", manager=manager, picks=[pick], kinds=KINDS, contacts={}, identity=IDENTITY, threshold=0.3)
    message = build_message(d, IDENTITY)
    assert message["Bcc"] is None and "\n" not in str(message["To"])


@pytest.mark.parametrize("address", ["mina@example.com\r\nBcc: evil@example.com", "not-an-address", ""])
def test_an_unusable_manager_address_is_refused(address):
    pick = Pick("E1", "M1", "recognition_gap", False, 0.5, 0.5, EVIDENCE)
    with pytest.raises(RenderError):
        render_digest(
            week="2026-W48",
            manager=Contact("M1", "Mina", address),
            picks=[pick],
            kinds=KINDS,
            contacts={},
            identity=IDENTITY,
            threshold=0.3,
        )
