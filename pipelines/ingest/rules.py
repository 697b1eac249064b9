"""What makes a row bad, as typed rules produced from the contract's columns and sources.

A row is quarantined for the first rule it breaks, in phase order: its values one column
at a time, then the typed row (exit before hire), then duplicates among the rows still
good, then references to the roster. Each rule carries the words quarantine shows, the
column it blames, and what is kept of the value (never a sensitive one).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.contract import EMPLOYEES, Column, Kind, Source
from core.db import quote_ident
from pipelines.ingest.options import IngestOptions

# Quarantine reasons, one place, so reports and tests agree on the words.
MISSING = "missing {col}"
NOT_A_DATE = "{col} is not a date"
IMPOSSIBLE_DATE = "{col} is an impossible date"
NOT_A_NUMBER = "{col} is not a number"
NOT_WHOLE = "{col} is not a whole number"
OUT_OF_RANGE = "{col} is out of range"
NOT_ALLOWED = "{col} is not one of: {choices}"
NOT_EMAIL = "{col} is not an email address"
BAD_ID = "{col} is not a valid id"
UNKNOWN_MANAGER = "manager_id not found in employees"
UNKNOWN_EMPLOYEE = "{col} not found in employees"
EXIT_BEFORE_HIRE = "exit_date is before hire_date"
DUPLICATE = "duplicate of an earlier row ({key})"

DATE_KINDS = (Kind.DATE, Kind.TIMESTAMP)
NUMBER_KINDS = (Kind.NUMBER, Kind.INTEGER)


class Phase(StrEnum):
    """When a rule is evaluated; the order of the members is the order of evaluation."""

    VALUE = "value"  # one column's text: missing, unparseable, out of range, not allowed
    CROSS_FIELD = "cross_field"  # the typed columns of one row, before duplicates are looked for
    DUPLICATE = "duplicate"  # the key of an earlier row still good
    REFERENCE = "reference"  # a person the roster does not hold


@dataclass(frozen=True)
class Rule:
    column: str  # the column quarantine blames
    reason: str  # the words quarantine shows: tests and `retention quarantine` read them
    condition: str  # SQL, true when a row breaks the rule; empty for DUPLICATE (a window over the key finds those)
    phase: Phase
    # SQL for the value quarantine keeps: over the raw text for VALUE rules, the typed columns otherwise.
    value: str = "null"


def raw_alias(index: int) -> str:
    """The trimmed text of the source's `index`th column, as the check query names it."""
    return f"_r{index}"


def parsed_alias(index: int) -> str:
    """The same column parsed as a date or a number."""
    return f"_p{index}"


def value_rules(source: Source, options: IngestOptions) -> list[Rule]:
    """Every column's value rules, columns in contract order."""
    return [rule for i, col in enumerate(source.columns) for rule in column_rules(source, i, col, options)]


def column_rules(source: Source, index: int, col: Column, options: IngestOptions) -> list[Rule]:
    """The checks on one column's text; `index` is its place in `source.columns`."""
    raw, parsed = raw_alias(index), parsed_alias(index)
    kept = "null" if col.sensitive else raw

    def rule(reason: str, condition: str) -> Rule:
        return Rule(col.name, reason, condition, Phase.VALUE, kept)

    rules: list[Rule] = []
    if col.required and not col.allow_empty:
        rules.append(rule(MISSING.format(col=col.name), f"{raw} is null"))
    if col.kind in DATE_KINDS:
        latest = "$latest_plan" if source is EMPLOYEES else "$latest_event"
        rules.append(rule(NOT_A_DATE.format(col=col.name), f"{raw} is not null and {parsed} is null"))
        rules.append(rule(
            IMPOSSIBLE_DATE.format(col=col.name),
            f"{parsed} is not null and (cast({parsed} as date) < $earliest or cast({parsed} as date) > {latest})",
        ))
    elif col.kind in NUMBER_KINDS:
        rules.append(rule(
            NOT_A_NUMBER.format(col=col.name),
            f"{raw} is not null and ({parsed} is null or isnan({parsed}) or isinf({parsed}))",
        ))
        if col.kind is Kind.INTEGER:
            rules.append(rule(NOT_WHOLE.format(col=col.name), f"{parsed} is not null and {parsed} <> round({parsed})"))
        low, high = (options.rating_min, options.rating_max) if col.name == "rating" else (col.minimum, col.maximum)
        if low is not None:
            rules.append(rule(OUT_OF_RANGE.format(col=col.name), f"{parsed} < {float(low)!r}"))
        if high is not None:
            rules.append(rule(OUT_OF_RANGE.format(col=col.name), f"{parsed} > {float(high)!r}"))
    elif col.kind is Kind.ENUM:
        values = ", ".join("'" + c + "'" for c in col.choices)
        rules.append(rule(
            NOT_ALLOWED.format(col=col.name, choices=", ".join(col.choices)),
            f"{raw} is not null and lower({raw}) not in ({values})",
        ))
    elif col.kind is Kind.EMAIL:
        rules.append(rule(NOT_EMAIL.format(col=col.name), f"{raw} is not null and not regexp_matches({raw}, $email_pattern)"))
    elif col.kind is Kind.ID:
        rules.append(rule(BAD_ID.format(col=col.name), f"{raw} is not null and not regexp_matches({raw}, $id_pattern)"))
    return rules


def relational_rules(source: Source) -> list[Rule]:
    """Cross-field, key and reference rules on the typed columns, in phase order."""
    rules: list[Rule] = []
    if source is EMPLOYEES:
        rules.append(
            Rule("exit_date", EXIT_BEFORE_HIRE, "exit_date < hire_date", Phase.CROSS_FIELD, "cast(exit_date as varchar)")
        )
    rules.append(Rule(source.key[0], DUPLICATE.format(key=", ".join(source.key)), "", Phase.DUPLICATE))
    if source is EMPLOYEES:
        rules.append(Rule(
            "manager_id",
            UNKNOWN_MANAGER,
            "manager_id <> employee_id and manager_id not in (select employee_id from typed where employee_id is not null)",
            Phase.REFERENCE,
            "manager_id",
        ))
        return rules
    for col in source.columns:
        if col.references_employee:
            name = quote_ident(col.name)
            rules.append(Rule(
                col.name,
                UNKNOWN_EMPLOYEE.format(col=col.name),
                f"{name} not in (select employee_id from employees)",
                Phase.REFERENCE,
                name,
            ))
    return rules


def unparsed_date_reasons(source: Source) -> frozenset[str]:
    """The reasons a `[ingest] date_format` could cure: dates that did not parse as ISO."""
    return frozenset(NOT_A_DATE.format(col=c.name) for c in source.columns if c.kind in DATE_KINDS)
