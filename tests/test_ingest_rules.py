"""The ingest rules as data: phases in order, sensitive values never kept, reasons in the quarantine's words."""

from __future__ import annotations

from core.contract import AUTONOMY_SURVEY, EMPLOYEES, PERFORMANCE
from pipelines.ingest.options import IngestOptions
from pipelines.ingest.rules import (
    Phase,
    relational_rules,
    unparsed_date_reasons,
    value_rules,
)

OPTIONS = IngestOptions()


def test_relational_rules_run_cross_field_then_duplicates_then_references():
    assert [(r.phase, r.reason) for r in relational_rules(EMPLOYEES)] == [
        (Phase.CROSS_FIELD, "exit_date is before hire_date"),
        (Phase.DUPLICATE, "duplicate of an earlier row (employee_id)"),
        (Phase.REFERENCE, "manager_id not found in employees"),
    ]
    assert [(r.phase, r.column) for r in relational_rules(PERFORMANCE)] == [
        (Phase.DUPLICATE, "employee_id"),
        (Phase.REFERENCE, "employee_id"),
    ]


def test_a_sensitive_columns_value_is_never_kept_and_ranges_come_from_the_options():
    score = [r for r in value_rules(AUTONOMY_SURVEY, OPTIONS) if r.column == "score"]
    assert {r.value for r in score} == {"null"} and all(r.phase is Phase.VALUE for r in score)
    rating = [r.condition for r in value_rules(PERFORMANCE, IngestOptions(rating_min=0, rating_max=10))
              if r.reason == "rating is out of range"]
    assert rating == ["_p2 < 0.0", "_p2 > 10.0"]


def test_only_unparsed_dates_are_reasons_a_date_format_could_cure():
    assert unparsed_date_reasons(EMPLOYEES) == {"hire_date is not a date", "exit_date is not a date"}
