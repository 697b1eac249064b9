"""Selection rules, one at a time, on hand-built people (pure functions, no store)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from models.features import Features
from models.score import Scores
from nudges.catalog import NudgeKind, load_catalog
from nudges.select import Person, SelectionPolicy, select

TODAY = date(2026, 11, 23)
POLICY = SelectionPolicy(threshold=0.3, per_manager=3)
HEALTHY = {
    "days_since_recognition": 7.0,
    "ever_recognised": 1.0,
    "recognition_90d": 8.0,
    "givers_90d": 4.0,
    "one_on_ones_held_90d": 6.0,
    "one_on_ones_missed_last4": 0.0,
    "one_on_ones_last4": 4.0,
    "days_since_career_talk": 30.0,
    "ever_career_talk": 1.0,
    "days_since_goals_talk": 30.0,
    "ever_goals_talk": 1.0,
    "autonomy_latest": 4.5,
    "voice_latest": 4.5,
    "growth_latest": 4.5,
    "days_since_learning": 30.0,
    "learning_180d": 2.0,
    "rating_latest": 4.5,
    "tenure_days": 900.0,
}
STARVED = {"days_since_recognition": 120.0}
NO_ONE_ON_ONES = {"one_on_ones_held_90d": 0.0, "one_on_ones_missed_last4": 4.0}
NO_CAREER = {"days_since_career_talk": 300.0}
NO_GOALS = {"days_since_goals_talk": 300.0}


def org(people: dict[str, dict[str, float]], status: dict[str, str] | None = None) -> Features:
    ids = sorted(people)
    columns: dict[str, np.ndarray] = {
        "employee_id": np.array(ids, dtype=object),
        "status": np.array([(status or {}).get(e, "active") for e in ids], dtype=object),
    }
    for name, default in HEALTHY.items():
        columns[name] = np.array([people[e].get(name, default) for e in ids], dtype=np.float64)
    return Features(as_of=datetime(2026, 11, 23), columns=columns)


def scores(features: Features, risk: dict[str, float], drivers: dict[str, dict[str, float]] | None = None) -> Scores:
    ids = list(features["employee_id"])
    signals = ("recognition", "one_on_ones", "career", "goals", "autonomy", "voice", "growth")
    return Scores(
        employee_id=features["employee_id"],
        risk=np.array([risk.get(e, 0.0) for e in ids]),
        drivers={s: np.array([(drivers or {}).get(e, {}).get(s, 0.0) for e in ids]) for s in signals},
        method="model",
    )


def kinds(*ids: str) -> list[NudgeKind]:
    by_id = load_catalog().by_id()
    return [by_id[i] for i in ids] if ids else load_catalog().active()


def team(*members: str, manager: str = "M1", boss: str = "B1") -> dict[str, Person]:
    people = {boss: Person(None, "active"), manager: Person(boss, "active")}
    people.update({m: Person(manager, "active") for m in members})
    return people


def run(features: Features, sc: Scores, people: dict[str, Person], **kwargs):
    stars = np.ones(len(features), dtype=bool) if "stars" not in kwargs else kwargs.pop("stars")
    return select(features, sc, stars, kwargs.pop("kinds", kinds()), people, kwargs.pop("policy", POLICY), today=TODAY, **kwargs)


def decision(selection, employee: str):
    return next(d for d in selection.decisions if d.employee_id == employee)


def test_a_star_below_the_threshold_is_not_nudged_and_the_reason_is_kept():
    f = org({"E1": STARVED})
    selection = run(f, scores(f, {"E1": 0.1}), team("E1"))
    assert selection.picks == []
    assert decision(selection, "E1").reason == "below the risk threshold"


def test_someone_who_is_not_a_star_is_never_considered():
    f = org({"E1": STARVED})
    selection = run(f, scores(f, {"E1": 0.9}), team("E1"), stars=np.array([False]))
    assert selection.picks == [] and selection.decisions == []


def test_a_star_above_the_threshold_gets_the_kind_whose_trigger_fires():
    f = org({"E1": STARVED})
    selection = run(f, scores(f, {"E1": 0.5}), team("E1"))
    assert [(p.employee_id, p.kind, p.recipient_id) for p in selection.picks] == [("E1", "recognition_gap", "M1")]


def test_the_kind_with_the_largest_expected_risk_reduction_wins():
    f = org({"E1": {**STARVED, **NO_CAREER}})
    people = team("E1")
    career_first = run(f, scores(f, {"E1": 0.5}, {"E1": {"recognition": 0.02, "career": 0.08}}), people)
    recognition_first = run(f, scores(f, {"E1": 0.5}, {"E1": {"recognition": 0.09, "career": 0.01}}), people)
    assert career_first.picks[0].kind == "career_conversation"
    assert recognition_first.picks[0].kind == "recognition_gap"


def test_a_person_gets_at_most_one_nudge_a_week():
    f = org({"E1": {**STARVED, **NO_CAREER, **NO_ONE_ON_ONES}})
    selection = run(f, scores(f, {"E1": 0.5}), team("E1"))
    assert len(selection.picks) == 1


def test_when_several_gaps_coincide_the_engagement_plan_is_chosen_and_lists_them():
    f = org({"E1": {**STARVED, **NO_CAREER, **NO_ONE_ON_ONES, **NO_GOALS}})
    drivers = {"E1": {"recognition": 0.03, "career": 0.05, "one_on_ones": 0.04, "goals": 0.01}}
    pick = run(f, scores(f, {"E1": 0.5}, drivers), team("E1")).picks[0]
    assert pick.kind == "engagement_plan"
    assert pick.also[:3] == ("career_conversation", "one_on_one_lapse", "recognition_gap")


def test_a_manager_gets_at_most_per_manager_people_the_most_at_stake_first():
    f = org({f"E{i}": STARVED for i in range(1, 6)})
    risk = {"E1": 0.4, "E2": 0.9, "E3": 0.5, "E4": 0.8, "E5": 0.6}
    selection = run(f, scores(f, risk), team("E1", "E2", "E3", "E4", "E5"))
    assert [p.employee_id for p in selection.picks] == ["E2", "E4", "E5"]
    assert decision(selection, "E1").reason == "manager already has 3 nudges"


def test_priority_weighs_risk_by_performance_so_slots_go_to_the_strongest():
    f = org({"E1": {**STARVED, "rating_latest": 3.0}, "E2": {**STARVED, "rating_latest": 5.0}})
    policy = SelectionPolicy(threshold=0.3, per_manager=1)
    selection = run(f, scores(f, {"E1": 0.55, "E2": 0.5}), team("E1", "E2"), policy=policy)
    assert [p.employee_id for p in selection.picks] == ["E2"]


def test_a_kind_sent_within_its_cooldown_is_not_repeated_but_another_may_be():
    f = org({"E1": {**STARVED, **NO_CAREER}})
    sc = scores(f, {"E1": 0.5}, {"E1": {"recognition": 0.09, "career": 0.01}})
    selection = run(f, sc, team("E1"), last_sent={("E1", "recognition_gap"): date(2026, 11, 16)})
    assert selection.picks[0].kind == "career_conversation"


def test_a_kind_is_allowed_again_once_its_cooldown_has_passed():
    f = org({"E1": STARVED})
    selection = run(f, scores(f, {"E1": 0.5}), team("E1"), last_sent={("E1", "recognition_gap"): date(2026, 6, 1)})
    assert selection.picks[0].kind == "recognition_gap"


def test_when_every_fired_kind_is_cooling_down_the_reason_says_so():
    f = org({"E1": STARVED})
    selection = run(f, scores(f, {"E1": 0.5}), team("E1"), last_sent={("E1", "recognition_gap"): date(2026, 11, 16)})
    assert selection.picks == [] and decision(selection, "E1").reason == "cooldown (recognition_gap)"


@pytest.mark.parametrize("status", ["leave", "left"])
def test_people_on_leave_or_gone_are_skipped(status):
    f = org({"E1": STARVED}, status={"E1": status})
    selection = run(f, scores(f, {"E1": 0.5}), team("E1"))
    assert selection.picks == [] and decision(selection, "E1").reason == f"status is {status}"


def test_someone_whose_manager_changed_this_week_is_left_for_next_week():
    f = org({"E1": STARVED})
    selection = run(f, scores(f, {"E1": 0.5}), team("E1"), previous_managers={"E1": "M0"})
    assert selection.picks == [] and decision(selection, "E1").reason == "their manager changed this week"


def test_an_unchanged_manager_or_no_history_does_not_hold_anyone_back():
    f = org({"E1": STARVED, "E2": STARVED})
    selection = run(f, scores(f, {"E1": 0.5, "E2": 0.5}), team("E1", "E2"), previous_managers={"E1": "M1"})
    assert {p.employee_id for p in selection.picks} == {"E1", "E2"}


@pytest.mark.parametrize("manager_status", ["left", "leave"])
def test_an_unavailable_manager_hands_over_to_the_skip_level_marked_as_such(manager_status):
    f = org({"E1": STARVED})
    people = team("E1")
    people["M1"] = Person("B1", manager_status)
    pick = run(f, scores(f, {"E1": 0.5}), people).picks[0]
    assert (pick.recipient_id, pick.skip_level) == ("B1", True)


def test_a_manager_missing_from_the_roster_hands_over_to_nobody_and_says_why():
    f = org({"E1": STARVED})
    people = {"E1": Person("GHOST", "active")}
    selection = run(f, scores(f, {"E1": 0.5}), people)
    assert selection.picks == [] and decision(selection, "E1").reason == "no active manager or skip-level"


def test_someone_listed_as_their_own_manager_is_not_sent_to_themselves():
    f = org({"E1": STARVED})
    selection = run(f, scores(f, {"E1": 0.5}), {"E1": Person("E1", "active")})
    assert selection.picks == []


def test_each_manager_only_gets_their_own_reports():
    f = org({"E1": STARVED, "E2": STARVED})
    people = {**team("E1", manager="M1"), **team("E2", manager="M2")}
    grouped = run(f, scores(f, {"E1": 0.5, "E2": 0.5}), people).by_recipient()
    assert {m: [p.employee_id for p in picks] for m, picks in grouped.items()} == {"M1": ["E1"], "M2": ["E2"]}


def test_every_star_considered_has_exactly_one_decision():
    f = org({"E1": STARVED, "E2": {}, "E3": STARVED})
    selection = run(f, scores(f, {"E1": 0.5, "E2": 0.5, "E3": 0.1}), team("E1", "E2", "E3"))
    assert sorted(d.employee_id for d in selection.decisions) == ["E1", "E2", "E3"]
    assert decision(selection, "E2").reason == "no trigger fired"
    assert (decision(selection, "E1").outcome, decision(selection, "E1").recipient_id) == ("included", "M1")


def test_a_trigger_on_a_signal_nobody_computes_is_named():
    bad = kinds("recognition_gap")[0].model_copy(
        update={"trigger": kinds("recognition_gap")[0].conditions[0].model_copy(update={"signal": "salary"})}
    )
    f = org({"E1": STARVED})
    with pytest.raises(ValueError, match="salary"):
        run(f, scores(f, {"E1": 0.5}), team("E1"), kinds=[bad])


@pytest.mark.parametrize("signal", ["tenure_days", "rating_latest", "days_since_promotion"])
def test_a_trigger_on_something_a_manager_cannot_change_is_refused(signal):
    base = kinds("recognition_gap")[0]
    bad = base.model_copy(update={"trigger": base.conditions[0].model_copy(update={"signal": signal})})
    f = org({"E1": STARVED})
    with pytest.raises(ValueError, match=f"not something a manager can change.*{signal}"):
        run(f, scores(f, {"E1": 0.5}), team("E1"), kinds=[bad])
