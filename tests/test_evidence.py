"""Evidence phrases: short, plain, checkable by the manager, and never a survey answer."""

from __future__ import annotations

import math
import re

import pytest

from nudges.catalog import EVIDENCE_KINDS
from nudges.evidence import PLAN_MAX, describe
from nudges.select import EVIDENCE_FIELDS

NAN = math.nan

# A star whose support has slipped on every front.
NEGLECTED = {
    "days_since_recognition": 77.0,
    "ever_recognised": 1.0,
    "recognition_90d": 0.0,
    "givers_90d": 0.0,
    "one_on_ones_last4": 4.0,
    "one_on_ones_missed_last4": 2.0,
    "one_on_ones_held_90d": 3.0,
    "days_since_career_talk": 183.0,
    "ever_career_talk": 0.0,
    "days_since_goals_talk": 152.0,
    "ever_goals_talk": 0.0,
    "days_since_learning": 213.0,
    "learning_180d": 0.0,
    "tenure_days": 900.0,
}
SINGLE = [k for k in EVIDENCE_KINDS if k != "plan"]


@pytest.mark.parametrize(
    ("evidence", "values", "expected"),
    [
        ("recognition", {"days_since_recognition": 77, "ever_recognised": 1}, "last recognised 11 weeks ago"),
        ("recognition", {"days_since_recognition": 10, "ever_recognised": 1}, "last recognised 10 days ago"),
        ("recognition", {"days_since_recognition": 200, "ever_recognised": 0}, "no recognition on record in the last 7 months"),
        ("credit", {"recognition_90d": 3, "givers_90d": 1}, "recognised 3 times in the last 90 days, all by the same person"),
        ("credit", {"recognition_90d": 1, "givers_90d": 1}, "recognised by one person in the last 90 days"),
        ("credit", {"recognition_90d": 4, "givers_90d": 3}, "recognised 4 times in the last 90 days, by 3 people"),
        ("credit", {"recognition_90d": 0, "givers_90d": 0}, "no recognition in the last 90 days"),
        ("one_on_ones", {"one_on_ones_last4": 4, "one_on_ones_missed_last4": 2, "one_on_ones_held_90d": 3},
         "2 of the last 4 1:1s cancelled or missed"),
        ("one_on_ones", {"one_on_ones_last4": 4, "one_on_ones_missed_last4": 4, "one_on_ones_held_90d": 0},
         "the last 4 1:1s all cancelled or missed"),
        ("one_on_ones", {"one_on_ones_last4": 0, "one_on_ones_missed_last4": 0, "one_on_ones_held_90d": 0},
         "no 1:1 held in the last 90 days"),
        ("one_on_ones", {"one_on_ones_last4": 2, "one_on_ones_missed_last4": 0, "one_on_ones_held_90d": 2},
         "only 2 1:1s held in the last 90 days"),
        ("career", {"days_since_career_talk": 183, "ever_career_talk": 0}, "no career conversation on record in the last 6 months"),
        ("career", {"days_since_career_talk": 130, "ever_career_talk": 1}, "last career conversation logged 4 months ago"),
        ("goals", {"days_since_goals_talk": 152, "ever_goals_talk": 0}, "no 1:1 about goals on record in the last 5 months"),
        ("goals", {"days_since_goals_talk": 126, "ever_goals_talk": 1}, "last 1:1 about goals held 4 months ago"),
        ("growth", {"days_since_learning": 213, "learning_180d": 0}, "no learning activity logged in 7 months"),
        ("growth", {"days_since_learning": 30, "learning_180d": 2}, "last learning activity logged 4 weeks ago"),
    ],
)
def test_each_kind_reads_as_a_plain_phrase(evidence, values, expected):
    assert describe(evidence, {k: float(v) for k, v in values.items()}) == expected


@pytest.mark.parametrize("evidence", SINGLE)
def test_phrases_are_short_lower_case_and_unpunctuated_at_the_end(evidence):
    phrase = describe(evidence, NEGLECTED)
    assert phrase and not phrase[0].isupper() and not phrase.endswith((".", "!", "?"))
    assert len(phrase) <= 90


@pytest.mark.parametrize("evidence", [*SINGLE, "plan"])
@pytest.mark.parametrize(
    "values",
    [
        {},
        dict.fromkeys(EVIDENCE_FIELDS, NAN),
        {**NEGLECTED, "days_since_recognition": NAN, "givers_90d": NAN, "one_on_ones_held_90d": NAN},
        {**NEGLECTED, "days_since_career_talk": NAN, "days_since_goals_talk": NAN, "days_since_learning": NAN},
        {"ever_recognised": NAN, "days_since_recognition": 60.0, "recognition_90d": NAN},
        {"days_since_recognition": -3.0, "days_since_learning": 0.0, "learning_180d": 1.0},
    ],
)
def test_missing_or_nan_values_never_crash(evidence, values):
    phrase = describe(evidence, values, also=("recognition", "one_on_ones", "growth"))
    assert isinstance(phrase, str) and phrase
    assert "nan" not in phrase.lower() and "None" not in phrase and "-" not in phrase


@pytest.mark.parametrize("evidence", ["autonomy", "voice"])
def test_autonomy_and_voice_are_a_pattern_without_numbers_or_answers(evidence):
    phrases = {describe(evidence, values) for values in ({}, NEGLECTED, dict.fromkeys(EVIDENCE_FIELDS, 1.0))}
    assert len(phrases) == 1  # the same words whatever the numbers
    phrase = phrases.pop()
    assert not re.search(r"\d", phrase)
    assert not re.search(r"survey|answer|rated|scor|said|told|reported|out of", phrase, flags=re.IGNORECASE)


def test_the_plan_combines_the_strongest_three_in_order():
    phrase = describe("plan", NEGLECTED, also=("recognition", "one_on_ones", "career", "goals", "growth"))
    assert phrase == (
        "several things at once: last recognised 11 weeks ago; 2 of the last 4 1:1s cancelled or missed;"
        " no career conversation on record in the last 6 months"
    )


@pytest.mark.parametrize("also", [tuple(SINGLE), tuple(reversed(SINGLE)), ("autonomy", "voice", "growth", "career")])
def test_the_plan_never_lists_more_than_three(also):
    phrase = describe("plan", NEGLECTED, also=also)
    assert phrase.startswith("several things at once: ")
    assert 1 <= len(phrase.split(": ", 1)[1].split("; ")) <= PLAN_MAX


def test_the_plan_prefers_checkable_facts_to_patterns():
    phrase = describe("plan", NEGLECTED, also=("autonomy", "recognition", "voice", "career", "growth"))
    assert "signs" not in phrase
    assert phrase == (
        "several things at once: last recognised 11 weeks ago;"
        " no career conversation on record in the last 6 months; no learning activity logged in 7 months"
    )


def test_the_plan_uses_patterns_when_few_facts_are_there():
    phrase = describe("plan", NEGLECTED, also=("autonomy", "voice", "credit"))
    parts = phrase.split(": ", 1)[1].split("; ")
    assert parts[0] == describe("autonomy", NEGLECTED) and parts[1] == describe("voice", NEGLECTED)
    assert parts[2] == describe("credit", NEGLECTED) and not re.search(r"\d", "".join(parts[:2]))


def test_the_plan_without_details_still_reads():
    phrase = describe("plan", NEGLECTED)
    assert phrase.startswith("several things at once") and not phrase.endswith(".")


def test_the_plan_ignores_repeats_and_itself():
    phrase = describe("plan", NEGLECTED, also=("recognition", "plan", "recognition", "career"))
    assert phrase.count("last recognised") == 1 and len(phrase.split("; ")) == 2


def test_an_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown evidence kind 'salary'"):
        describe("salary", NEGLECTED)
    with pytest.raises(ValueError, match="unknown evidence kind 'recognition_gap'"):
        describe("plan", NEGLECTED, also=("recognition_gap",))


@pytest.mark.parametrize(
    ("days", "expected"),
    [(1, "1 day"), (13, "13 days"), (14, "2 weeks"), (119, "17 weeks"), (120, "4 months"), (365, "12 months")],
)
def test_spans_keep_their_units(days, expected):
    assert describe("recognition", {"days_since_recognition": float(days), "ever_recognised": 1.0}) == f"last recognised {expected} ago"
