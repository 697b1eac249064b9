"""The nudge catalog is data HR edits: it loads, and mistakes in it are named plainly."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from models.features import compute_features
from nudges.catalog import DEFAULT_CATALOG, EVIDENCE_KINDS, SEVERAL, load_catalog
from nudges.select import KINDS_FIRED, signals
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from scripts import essay_fingerprint
from tests.conftest import TODAY

SHINGLES = Path(__file__).resolve().parent / "data" / "essay_shingles.txt"

SHIPPED = [
    "engagement_plan",
    "recognition_gap",
    "give_credit",
    "one_on_one_lapse",
    "career_conversation",
    "stale_goals",
    "autonomy_dip",
    "voice_dip",
    "growth_investment",
]
# A question starting with one of these invites a yes or a no.
CLOSED = {"do", "does", "did", "is", "are", "can", "could", "would", "will", "have", "has", "should"}
OPEN = {"what", "how", "which", "where", "when", "who", "if"}
# Words a manager must never read: the product partners with people, it does not
# watch them. "priority" is kept out too: it would read as a hidden ranking.
BANNED = re.compile(
    r"\b(risk\w*|scor(e|es|ed|ing)|flight|leave|leaves|leaving|quit|quits|quitting|retention|retain\w*|attrition|survey\w*|answered|rated|priority)\b",
    flags=re.IGNORECASE,
)


def manager_facing(kind) -> list[str]:
    return [kind.title, *kind.actions, *kind.questions, *kind.why]


def test_the_shipped_catalog_has_the_nine_kinds_in_order():
    catalog = load_catalog()
    assert [k.id for k in catalog.kind] == SHIPPED
    assert [k.id for k in catalog.active()] == SHIPPED


def test_the_engagement_plan_counts_the_other_kinds_and_fires_at_four():
    plan = load_catalog().by_id()["engagement_plan"]
    assert plan.driver == SEVERAL and plan.evidence == "plan"
    assert [(c.signal, c.op, c.value) for c in plan.conditions] == [(KINDS_FIRED, ">=", 4)]


def test_give_credit_needs_recent_recognition_from_at_most_one_person():
    credit = load_catalog().by_id()["give_credit"]
    assert isinstance(credit.trigger, list)
    assert {(c.signal, c.op, c.value) for c in credit.conditions} == {
        ("days_since_recognition", "<", 45),
        ("givers_90d", "<=", 1),
    }


def test_every_evidence_kind_is_used_once():
    assert sorted(k.evidence for k in load_catalog().kind) == sorted(EVIDENCE_KINDS)


def test_every_kind_has_an_action_a_question_and_a_reason(tmp_path):
    for kind in load_catalog().kind:
        assert kind.actions and kind.questions and kind.why and kind.principle
        assert all("{first_name}" in a for a in kind.actions)
        assert all(q.rstrip().endswith("?") for q in kind.questions)


def test_every_kind_offers_enough_phrasings_to_rotate():
    for kind in load_catalog().kind:
        assert len(kind.actions) >= 3, kind.id
        assert len(kind.questions) >= 3, kind.id
        assert len(kind.why) >= 2, kind.id
        assert len(kind.title) <= 80 and kind.enabled, kind.id
        for texts in (kind.actions, kind.questions, kind.why):
            assert len(set(texts)) == len(texts), kind.id


def test_questions_are_open():
    for kind in load_catalog().kind:
        for question in kind.questions:
            first = re.split(r"[\s,:]+", question.strip(), maxsplit=1)[0].lower()
            assert first not in CLOSED, question
            assert first in OPEN, question
            assert question.rstrip().endswith("?") and question.count("?") == 1, question


def test_no_manager_facing_text_mentions_risk_scores_surveys_or_people_going():
    for kind in load_catalog().kind:
        for text in manager_facing(kind):
            assert not BANNED.search(text), (kind.id, text)
            assert "!" not in text, (kind.id, text)


def test_the_banned_words_check_catches_them():
    for text in ("Their flight risk is high", "She may leave", "per the survey", "He rated it 2", "retention"):
        assert BANNED.search(text)
    assert not BANNED.search("Celebrate the result and leverage their quite rare skill")


def test_autonomy_and_voice_speak_of_patterns_not_answers():
    kinds = load_catalog().by_id()
    for kind_id in ("autonomy_dip", "voice_dip"):
        for text in manager_facing(kinds[kind_id]):
            assert not re.search(r"\d|you (said|told)|they (said|told)|\byour answer", text, flags=re.IGNORECASE), text


def test_every_trigger_uses_a_signal_the_selection_knows(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    known = set(signals(compute_features(conn, datetime.combine(TODAY, datetime.min.time())))) | {KINDS_FIRED}
    for kind in load_catalog().kind:
        for condition in kind.conditions:
            assert condition.signal in known, (kind.id, condition.signal)


def test_a_mistake_names_the_kind_and_the_key(tmp_path):
    data = DEFAULT_CATALOG.read_text().replace('driver = "career"', 'driver = "salary"')
    path = tmp_path / "catalog.toml"
    path.write_text(data)
    with pytest.raises(ConfigError, match="kind 'career_conversation': driver: .*driver must be one of"):
        load_catalog(path)


def test_an_empty_trigger_list_is_named(tmp_path):
    data = DEFAULT_CATALOG.read_text().replace(
        'trigger = { signal = "days_since_learning", op = ">=", value = 180 }', "trigger = []"
    )
    path = tmp_path / "catalog.toml"
    path.write_text(data)
    with pytest.raises(ConfigError, match="kind 'growth_investment': trigger: .*at least one condition"):
        load_catalog(path)


def test_a_missing_catalog_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml does not exist"):
        load_catalog(tmp_path / "nope.toml")


def test_no_sentence_is_copied_from_the_essays():
    """No run of eight words of the catalog's wording appears verbatim in the essays.

    The essays are not shipped: tests/data/essay_shingles.txt holds a hash of each of their
    eight-word runs (scripts/essay_fingerprint.py writes it).
    """
    essays = set(SHINGLES.read_text(encoding="ascii").split())
    assert len(essays) > 2000
    with DEFAULT_CATALOG.open("rb") as fh:
        catalog = tomllib.load(fh)
    for kind in catalog["kind"]:
        for text in kind["actions"] + kind["questions"] + kind["why"] + [kind["title"], kind["principle"]]:
            assert not (essay_fingerprint.shingles(text) & essays), text


def test_the_copy_check_catches_a_copied_run():
    essays = set(SHINGLES.read_text(encoding="ascii").split())
    copied = "one of the biggest pitfalls here is focusing on getting the best from their people"
    assert essay_fingerprint.shingles(copied) & essays
