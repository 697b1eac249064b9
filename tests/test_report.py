"""The weekly HR summary: pooling and suppression of small groups, flags, and a safe, well-formed page."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

import numpy as np

from nudges.bands import BANDS, bands
from nudges.report import ReportInputs, SourceFreshness, build_summary, summary_html

N = 5
THRESHOLD = 0.2  # elevated >= 0.2, high >= 0.4
LOW, ELEVATED, HIGH = 0.05, 0.25, 0.6
GENERATED = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def people(*groups: tuple[str, int, float, bool]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(department, how many, risk, star) groups flattened into the three per-person sequences."""
    departments: list[str] = []
    risks: list[float] = []
    stars: list[bool] = []
    for department, count, risk, star in groups:
        departments += [department] * count
        risks += [risk] * count
        stars += [star] * count
    return departments, np.array(risks, dtype=np.float64), np.array(stars, dtype=bool)


def make_inputs(*groups: tuple[str, int, float, bool], **overrides: Any) -> ReportInputs:
    departments, risks, stars = people(*groups) if groups else people(("Engineering", 10, LOW, False))
    base = ReportInputs(
        week="2026-W48",
        generated_at=GENERATED,
        min_group_size=N,
        threshold=THRESHOLD,
        score_method="model",
        score_note="The model beat the rules score on the validation window.",
        departments=departments,
        risks=risks,
        stars=stars,
        nudges_by_kind={"recognition_gap": 3, "career_conversation": 1},
        managers_total=4,
        managers_emailed=3,
        skipped_by_reason={"cooldown for this kind": 2},
        freshness=[SourceFreshness("employees", date(2026, 11, 24), datetime(2026, 11, 24, 6, 0), 40)],
        quarantine=[("recognition", "given_at is not a date", 2)],
        model_card={
            "version": "20261101T000000Z-0a1b2c3d",
            "trained_at": "2026-11-01T00:00:00+00:00",
            "estimator": "hist_gradient_boosting",
            "validation": {"roc_auc": 0.78, "pr_auc": 0.31, "brier": 0.092, "lift_top_decile": 2.4},
        },
        mean_risk_history=[],
    )
    return dataclasses.replace(base, **overrides)


def table(summary: dict[str, Any], population: str = "everyone") -> dict[str, Any]:
    return summary["people_by_band"][population]


def row(summary: dict[str, Any], department: str, population: str = "everyone") -> dict[str, Any]:
    (found,) = [r for r in table(summary, population)["rows"] if r["department"] == department]
    return found


def assert_nothing_one_subtraction_away(t: dict[str, Any]) -> None:
    """No shown row or shown column total leaves exactly one withheld cell to solve for."""
    for r in [*t["rows"], t["total"]]:
        if r["people"] is not None:
            assert sum(v is None for v in r["bands"].values()) != 1, r
    for band in BANDS:
        if t["total"]["bands"][band]:
            unknown = sum(r["bands"][band] is None for r in t["rows"]) + (1 if t["omitted_note"] else 0)
            assert unknown != 1, band


# --- people by band and department ------------------------------------------------------------


def test_small_departments_are_pooled_into_one_other_row() -> None:
    summary = build_summary(
        make_inputs(
            ("Alpha", 6, LOW, False), ("Beta", 5, LOW, False), ("Gamma", 2, LOW, False), ("Delta", 3, LOW, False)
        )
    )
    rows = table(summary)["rows"]
    assert [r["department"] for r in rows] == ["Alpha", "Beta", "Other (groups under 5)"]
    assert rows[-1]["people"] == 5
    assert "Gamma" not in json.dumps(summary) and "Delta" not in json.dumps(summary)


def test_pool_under_n_is_left_out_with_a_note() -> None:
    summary = build_summary(
        make_inputs(
            ("Alpha", 6, LOW, False), ("Alpha", 5, HIGH, False), ("Gamma", 2, LOW, False), ("Delta", 1, HIGH, False)
        )
    )
    assert [r["department"] for r in table(summary)["rows"]] == ["Alpha"]
    assert table(summary)["omitted_note"]
    assert table(summary)["total"]["bands"] == {"low": 8, "elevated": 0, "high": 6}
    assert_nothing_one_subtraction_away(table(summary))  # the pool's bands stay unknown


def test_cell_under_n_is_suppressed_with_the_smallest_other_non_zero_cell() -> None:
    summary = build_summary(
        make_inputs(("Alpha", 12, LOW, False), ("Alpha", 6, ELEVATED, False), ("Alpha", 2, HIGH, False))
    )
    assert row(summary, "Alpha") == {
        "department": "Alpha",
        "people": 20,
        "bands": {"low": 12, "elevated": None, "high": None},
    }


def test_zero_is_shown_and_never_chosen_as_the_complementary_cell() -> None:
    summary = build_summary(make_inputs(("Alpha", 7, LOW, False), ("Alpha", 3, HIGH, False)))
    assert row(summary, "Alpha")["bands"] == {"low": None, "elevated": 0, "high": None}


def test_band_totals_under_n_are_suppressed() -> None:
    summary = build_summary(
        make_inputs(
            ("Alpha", 8, LOW, False), ("Alpha", 2, HIGH, False), ("Beta", 9, LOW, False), ("Beta", 1, HIGH, False)
        )
    )
    total = table(summary)["total"]
    assert total["people"] == 20
    assert total["bands"] == {"low": None, "elevated": 0, "high": None}


def test_population_under_n_shows_no_counts_at_all() -> None:
    summary = build_summary(make_inputs(("Alpha", 10, LOW, False), ("Alpha", 3, HIGH, True)))
    stars = table(summary, "stars")
    assert stars["rows"] == []
    assert stars["total"]["people"] is None
    assert set(stars["total"]["bands"].values()) == {None}
    assert summary["scored"]["stars"] is None


def test_a_column_total_never_isolates_one_withheld_cell() -> None:
    summary = build_summary(
        make_inputs(
            ("Alpha", 5, LOW, False), ("Alpha", 5, HIGH, False), ("Beta", 7, LOW, False), ("Beta", 3, HIGH, False)
        )
    )
    assert table(summary)["total"]["bands"] == {"low": 12, "elevated": 0, "high": 8}
    assert row(summary, "Alpha")["bands"]["high"] is None
    assert_nothing_one_subtraction_away(table(summary))


def test_star_counts_are_withheld_when_everyone_minus_stars_would_reveal_a_few_non_stars() -> None:
    summary = build_summary(make_inputs(("Alpha", 5, LOW, True), ("Alpha", 2, LOW, False), ("Alpha", 5, HIGH, True)))
    assert row(summary, "Alpha")["bands"] == {"low": 7, "elevated": 0, "high": 5}
    assert row(summary, "Alpha", "stars")["bands"] == {"low": None, "elevated": 0, "high": None}


# --- privacy, safety and shape ------------------------------------------------------------------


def test_no_id_name_email_or_individual_score_reaches_json_or_html() -> None:
    risks = [0.612345, 0.287654, 0.051234, 0.713579, 0.024681, 0.135791, 0.456789, 0.098765, 0.222333, 0.333444]
    inputs = make_inputs(departments=["Finance"] * 10, risks=np.array(risks), stars=np.array([True] * 5 + [False] * 5))
    summary = build_summary(inputs)
    text = json.dumps(summary) + summary_html(summary)
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", text)
    for risk in risks:
        for shown in (str(risk), f"{risk:.4f}", f"{risk:.3f}"):
            assert shown not in text


def test_summary_is_json_serialisable() -> None:
    summary = build_summary(make_inputs(("Alpha", 8, LOW, True), ("Beta", 6, float("nan"), False)))
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_html_escapes_department_names() -> None:
    summary = build_summary(make_inputs(("<script>alert(1)</script>", 6, LOW, False)))
    page = summary_html(summary)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


class _TableTags(HTMLParser):
    """Checks that table-related tags open and close in order."""

    WATCHED = frozenset({"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tables = 0
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.WATCHED:
            self.stack.append(tag)
            self.tables += tag == "table"

    def handle_endtag(self, tag: str) -> None:
        if tag in self.WATCHED:
            if not self.stack or self.stack[-1] != tag:
                self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            else:
                self.stack.pop()


def test_html_table_tags_are_balanced() -> None:
    summary = build_summary(make_inputs(("Alpha", 8, LOW, True), ("Alpha", 3, HIGH, True), ("Beta", 2, LOW, False)))
    parser = _TableTags()
    parser.feed(summary_html(summary))
    parser.close()
    assert parser.errors == [] and parser.stack == []
    assert parser.tables >= 6


def test_rules_score_without_a_model_card_renders() -> None:
    summary = build_summary(make_inputs(score_method="rules", score_note="No labelled history yet.", model_card=None))
    assert summary["model"] is None
    assert "Transparent rules score" in summary_html(summary)


# --- flags -------------------------------------------------------------------------------------


def test_drift_flagged_when_the_mean_moves_more_than_0_05() -> None:
    history = [(f"2026-W{w}", 0.10) for w in range(44, 48)]
    summary = build_summary(make_inputs(("Alpha", 10, 0.20, False), mean_risk_history=history))
    assert summary["drift"]["difference"] == 0.1
    assert summary["drift"]["flagged"] is True


def test_drift_flagged_when_the_mean_moves_more_than_25_percent() -> None:
    history = [(f"2026-W{w}", 0.04) for w in range(44, 48)]
    summary = build_summary(make_inputs(("Alpha", 10, 0.06, False), mean_risk_history=history))
    assert summary["drift"]["flagged"] is True


def test_no_drift_flag_for_a_small_change_against_the_last_four_weeks() -> None:
    history = [("2026-W43", 0.90), *((f"2026-W{w}", 0.10) for w in range(44, 48))]
    summary = build_summary(make_inputs(("Alpha", 10, 0.11, False), mean_risk_history=history))
    assert summary["drift"]["baseline_weeks"] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert summary["drift"]["flagged"] is False


def test_mean_score_withheld_when_fewer_than_n_are_scored() -> None:
    summary = build_summary(make_inputs(("Alpha", 3, 0.9, False), mean_risk_history=[("2026-W47", 0.1)]))
    assert summary["drift"]["this_week"] is None
    assert summary["drift"]["flagged"] is False


def test_freshness_flags_a_source_stale_past_its_own_rhythm() -> None:
    freshness = [
        SourceFreshness("one_on_ones", date(2026, 11, 11), None, 10),  # 14 days old: fine weekly
        SourceFreshness("recognition", date(2026, 11, 10), None, 10),  # 15 days old: stale
        SourceFreshness("performance", date(2026, 6, 1), None, 10),  # reviews are twice a year
        SourceFreshness("autonomy_survey", None, None, 0),  # nothing at all
        SourceFreshness("employees", date(2020, 1, 1), None, 10),  # newest hire says nothing
    ]
    rows = {r["source"]: r for r in build_summary(make_inputs(freshness=freshness))["freshness"]["sources"]}
    assert (rows["one_on_ones"]["days_old"], rows["one_on_ones"]["stale"]) == (14, False)
    assert (rows["recognition"]["days_old"], rows["recognition"]["stale"]) == (15, True)
    assert rows["performance"]["stale"] is False
    assert rows["autonomy_survey"]["stale"] is True
    assert rows["employees"]["stale"] is False


# --- bands ---------------------------------------------------------------------------------------


def test_bands_start_elevated_at_the_threshold_and_high_at_twice_it() -> None:
    got = bands(np.array([0.3, 0.29999, 0.15, 0.14999, float("nan"), 1.0, 0.0]), 0.15)
    assert got.dtype == object
    assert got.tolist() == ["high", "elevated", "elevated", "low", "low", "high", "low"]


def test_with_a_high_threshold_high_starts_halfway_to_one() -> None:
    assert bands(np.array([0.75, 0.74, 0.5]), 0.5).tolist() == ["high", "elevated", "elevated"]


# --- wording --------------------------------------------------------------------------------------


def test_files_mode_says_written_and_smtp_mode_says_sent() -> None:
    written = summary_html(build_summary(make_inputs(delivery_mode="files")))
    assert "nudges written" in written and "Nudges written" in written and "nudges sent" not in written.lower()
    assert "managers with a digest" in written
    sent = summary_html(build_summary(make_inputs(delivery_mode="smtp")))
    assert "nudges sent" in sent and "managers emailed" in sent


def test_kinds_are_named_by_their_catalog_titles() -> None:
    titles = {"recognition_gap": "Recognise recent work", "career_conversation": "Talk about growth"}
    summary = build_summary(make_inputs(kind_titles=titles))
    page = summary_html(summary)
    assert [r["kind"] for r in summary["nudges"]["by_kind"]] == ["recognition_gap", "career_conversation"]  # JSON: ids
    assert ">Recognise recent work<" in page and ">Talk about growth<" in page and ">recognition_gap<" not in page


def test_times_are_shown_to_the_minute() -> None:
    page = summary_html(build_summary(make_inputs(generated_at=datetime(2026, 11, 30, 7, 2, 59, tzinfo=UTC))))
    assert "Generated 2026-11-30 07:02 UTC" in page and "07:02:59" not in page
    assert "2026-11-24 06:00</td>" in page and "2026-11-01 00:00 (29 days ago)" in page  # ingested, trained


def test_a_first_week_has_no_average_of_zero_weeks() -> None:
    page = summary_html(build_summary(make_inputs(mean_risk_history=[])))
    assert "previous 0" not in page and "week(s)" not in page and "none yet to compare with" in page
    one = summary_html(build_summary(make_inputs(mean_risk_history=[("2026-W47", 0.1)])))
    assert "Average of the previous 1 week<" in one
