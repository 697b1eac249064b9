"""The one query that types a staged file and applies the rules: `_checked`, a row per staged row.

Each row keeps its line, its typed columns, and the first rule it breaks (reason, column,
kept value) or none. All rules run in one pass: the value rules as a list whose first true
entry wins (much faster in DuckDB than a long CASE), then the relational rules on the typed
columns (an UPDATE per rule would rewrite the table each time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import duckdb

from core.contract import EMAIL_PATTERN, Column, Kind, Source
from core.db import ID_PATTERN, quote_ident
from pipelines.connectors.base import STAGE
from pipelines.ingest.options import IngestOptions
from pipelines.ingest.rules import (
    DATE_KINDS,
    NUMBER_KINDS,
    Phase,
    Rule,
    parsed_alias,
    raw_alias,
    relational_rules,
    value_rules,
)

CHECKED = (
    "create or replace temp table _checked as with"
    " raws as (select _line, {raws} from {stage}),"
    " parsed as (select *{parses} from raws),"
    " checked as (select *, {first_bad} as _bad from parsed),"
    " typed as (select _line, {typed}, _bad, left({bad_value}, 200) as _bad_value from checked),"
    " pre as materialized (select *, {pre_code} as _pre from typed),"
    # Duplicates among the rows still good, found on a narrow projection (sorting wide rows is slow).
    " dups as (select _line from (select _line, row_number() over (partition by {key} order by _line) as n"
    " from pre where _pre is null) where n > 1),"
    " coded as (select *, {code} as _code from pre)"
    " select _line, {names}, $reasons[_code] as _reason, $columns[_code] as _column, left({value}, 200) as _value"
    " from coded"
)


def check(conn: duckdb.DuckDBPyConnection, source: Source, mapping: Mapping[str, str], options: IngestOptions) -> None:
    """Build `_checked` from `_stage`; `mapping` is our column -> the staged header holding it."""
    has_format = options.date_format is not None
    raws, parses, typed = [], [], []
    for i, col in enumerate(source.columns):
        raws.append(f"{_text(mapping, col)} as {raw_alias(i)}")
        if (parse := _parse(i, col, has_format)) is not None:
            parses.append(f"{parse} as {parsed_alias(i)}")
        typed.append(f"{_typed(i, col)} as {quote_ident(col.name)}")
    values, relations = value_rules(source, options), relational_rules(source)
    # A rule's code is its place in this list, so the value rules' codes are list_position's answers.
    coded = list(enumerate([*values, *relations], start=1))
    sql = CHECKED.format(
        raws=", ".join(raws),
        stage=STAGE,
        parses="".join(", " + p for p in parses),
        first_bad="nullif(list_position([" + ", ".join(f"({r.condition})" for r in values) + "], true), 0)",
        typed=", ".join(typed),
        bad_value="case _bad " + " ".join(f"when {k} then {r.value}" for k, r in coded[: len(values)]) + " end",
        pre_code="coalesce(_bad" + _first_of(coded, Phase.CROSS_FIELD) + ")",
        key=", ".join(quote_ident(k) for k in source.key),
        code=(
            f"coalesce(_pre, case when _line in (select _line from dups) then {_code_of(coded, Phase.DUPLICATE)} end"
            + _first_of(coded, Phase.REFERENCE)
            + ")"
        ),
        names=", ".join(quote_ident(c.name) for c in source.columns),
        value="case "
        + " ".join([f"when _code = {k} then {r.value}" for k, r in coded[len(values):]] + ["when _code = _bad then _bad_value"])
        + " end",
    )
    params: dict[str, object] = {
        "earliest": date(options.earliest_year, 1, 1),
        "latest_event": options.today + timedelta(days=1),
        "latest_plan": options.today + timedelta(days=366),
        "email_pattern": EMAIL_PATTERN,
        "id_pattern": ID_PATTERN,
        "reasons": [r.reason for _, r in coded],
        "columns": [r.column for _, r in coded],
    }
    if has_format:
        params["date_format"] = options.date_format
    # DuckDB refuses named parameters the statement does not use.
    conn.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def _first_of(coded: list[tuple[int, Rule]], phase: Phase) -> str:
    """coalesce() arguments: the code of each `phase` rule when its condition holds."""
    return "".join(f", case when {r.condition} then {k} end" for k, r in coded if r.phase is phase and r.condition)


def _code_of(coded: list[tuple[int, Rule]], phase: Phase) -> int:
    (code,) = (k for k, r in coded if r.phase is phase)
    return code


def _text(mapping: Mapping[str, str], col: Column) -> str:
    if col.name not in mapping:
        return "cast(null as varchar)"
    raw = quote_ident(mapping[col.name])
    # trim() copies every string; most values have no surrounding spaces, so test first (2x faster).
    return f"nullif(case when starts_with({raw}, ' ') or ends_with({raw}, ' ') then trim({raw}) else {raw} end, '')"


def _parse(index: int, col: Column, has_format: bool) -> str | None:
    """A date or number column's text parsed once (None: the column is not parsed)."""
    raw = raw_alias(index)
    if col.kind in DATE_KINDS:
        target = "date" if col.kind is Kind.DATE else "timestamp"
        parsed = f"try_cast({raw} as {target})"
        if has_format:
            parsed = f"coalesce({parsed}, cast(try_strptime({raw}, $date_format) as {target}))"
        return parsed
    if col.kind in NUMBER_KINDS:
        return f"try_cast({raw} as double)"
    return None


def _typed(index: int, col: Column) -> str:
    """The column's stored value, from its text or its parse."""
    raw, parsed = raw_alias(index), parsed_alias(index)
    if col.kind in DATE_KINDS or col.kind is Kind.NUMBER:
        return parsed
    if col.kind is Kind.INTEGER:
        return f"cast({parsed} as integer)"
    if col.kind is Kind.ENUM:
        return f"lower({raw})"
    if col.kind in (Kind.EMAIL, Kind.ID):
        return raw
    if col.kind is Kind.TOPICS:
        return (
            f"list_filter(list_transform(regexp_split_to_array(coalesce(lower({raw}), ''), '[;|,]'),"
            " lambda t: trim(t)), lambda t: t <> '')"
        )
    if not col.stored:
        return "cast(null as varchar)"  # free text: never copied past staging
    return raw
