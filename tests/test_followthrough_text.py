"""The credit line, HR's rate rows, demotion, and the control coin: pure rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nudges.catalog import NudgeKind, load_catalog
from nudges.experiment import CONTROL, NUDGED, arm_for, coin
from nudges.followthrough import (
    Demotion,
    Resolved,
    apply,
    credit_line,
    demotions,
    rate_rows,
)

KINDS = load_catalog().by_id()


def test_both_planned_one_on_ones_held_reads_as_specific_credit() -> None:
    line = credit_line([Resolved("one_on_one_lapse", done=2, total=2)], KINDS)
    assert line == "You held a 1:1 with both people you planned to."


def test_partial_follow_through_is_credited_honestly() -> None:
    line = credit_line([Resolved("career_conversation", done=1, total=3)], KINDS)
    assert line == "You talked about career growth with 1 of the 3 people you planned to."


def test_nothing_done_means_no_credit_line() -> None:
    assert credit_line([Resolved("one_on_one_lapse", done=0, total=2)], KINDS) is None


def test_survey_based_kinds_are_never_credited() -> None:
    # Their follow-through is read from survey answers, which a manager never sees per person.
    assert credit_line([Resolved("autonomy_dip", done=1, total=1), Resolved("voice_dip", 1, 1)], KINDS) is None


def test_the_kind_with_most_follow_through_wins_the_one_line() -> None:
    line = credit_line([Resolved("recognition_gap", 1, 1), Resolved("one_on_one_lapse", 3, 3)], KINDS)
    assert line == "You held a 1:1 with all 3 people you planned to."


def test_a_catalog_may_not_credit_a_survey_kind() -> None:
    voice = KINDS["voice_dip"].model_dump()
    voice["credit"] = "Their voice came back for {who} you planned to."
    with pytest.raises(ValidationError, match="would reveal survey answers"):
        NudgeKind.model_validate(voice)


def test_a_credit_sentence_must_say_who() -> None:
    kind = KINDS["one_on_one_lapse"].model_dump()
    kind["credit"] = "Well done."
    with pytest.raises(ValidationError, match="must say who"):
        NudgeKind.model_validate(kind)


def test_rates_of_small_groups_are_pooled_and_a_small_pool_is_withheld() -> None:
    counts = {"Sales": (8, 10, 1), "Legal": (1, 2, 0), "Ops": (2, 2, 3)}
    rows = rate_rows(counts, min_group_size=5, other="Other")
    assert [(r.label, r.done, r.resolved) for r in rows] == [("Sales", 8, 10)]  # Legal + Ops = 4 < 5: withheld
    rows = rate_rows({**counts, "IT": (0, 1, 0)}, min_group_size=5, other="Other")
    assert [(r.label, r.done, r.resolved, r.pending) for r in rows] == [("Sales", 8, 10, 1), ("Other", 3, 5, 3)]


def test_a_kind_below_the_floor_on_enough_outcomes_is_demoted() -> None:
    changes = demotions({"give_credit": (2, 30), "one_on_one_lapse": (20, 30)}, [], floor=0.2, min_resolved=20)
    assert changes == [Demotion("give_credit", "demoted", 2 / 30, 30, 0.2)]


def test_too_few_outcomes_never_demote() -> None:
    assert demotions({"give_credit": (0, 5)}, [], floor=0.2, min_resolved=20) == []


def test_no_floor_never_demotes_and_lifts_earlier_demotions() -> None:
    assert demotions({"give_credit": (0, 50)}, [], floor=None, min_resolved=20) == []
    changes = demotions({"give_credit": (0, 50)}, ["give_credit"], floor=None, min_resolved=20)
    assert [c.action for c in changes] == ["restored"]


def test_a_demoted_kind_that_recovers_is_restored() -> None:
    changes = demotions({"give_credit": (10, 30)}, ["give_credit"], floor=0.2, min_resolved=20)
    assert [(c.kind, c.action) for c in changes] == [("give_credit", "restored")]
    assert apply(["give_credit"], changes) == frozenset()


def test_the_coin_is_stable_and_about_the_share() -> None:
    assert coin(3, "E1", "recognition_gap") == coin(3, "E1", "recognition_gap")
    draws = [arm_for(f"E{i}", "recognition_gap", share=0.2, seed=3, stored={}) for i in range(5000)]
    assert 0.18 < draws.count(CONTROL) / len(draws) < 0.22


def test_a_stored_arm_never_flips_when_the_share_changes() -> None:
    stored = {("E1", "recognition_gap"): CONTROL, ("E2", "recognition_gap"): NUDGED}
    assert arm_for("E1", "recognition_gap", share=0.0, seed=0, stored=stored) == CONTROL
    assert arm_for("E2", "recognition_gap", share=0.5, seed=9, stored=stored) == NUDGED


def test_no_holdout_means_everyone_is_nudged() -> None:
    assert {arm_for(f"E{i}", "k", share=0.0, seed=1, stored={}) for i in range(200)} == {NUDGED}
