"""Explain: one person's page for HR, and an audit row for each one.

What the store holds (sources, row counts, date range), their features and score drivers
for the latest week, every nudge and decision about them, never another person's id, name
or answers. Survey-derived values are listed as held but never shown per person.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from core.contract import SOURCES
from core.db import fetch_one, fetch_value, quote_ident, utcnow
from core.errors import PrivacyError
from core.templating import environment
from models.features import Features, compute_features
from pipelines.privacy.audit import write_audit
from pipelines.privacy.forgotten import forgotten_among
from pipelines.privacy.identity import check_id, person_columns
from pipelines.weeks import IsoWeek

if TYPE_CHECKING:
    from models.score import Scores

log = logging.getLogger("retention.privacy")

# Features computed from autonomy_survey answers: held, never shown per person (not even to HR).
SURVEY_FEATURES = frozenset({"autonomy_latest", "autonomy_change", "voice_latest", "voice_change", "growth_latest"})
SURVEY_DRIVERS = frozenset({"autonomy", "voice", "growth"})
# Feature columns that identify rather than describe.
_NOT_FEATURES = frozenset({"employee_id", "manager_id", "as_of"})


@dataclass(frozen=True)
class Held:
    """Rows about the person in one table: as its subject (with the date range) or another role."""

    table: str
    role: str
    rows: int
    first: date | None = None
    last: date | None = None


@dataclass(frozen=True)
class Value:
    name: str
    value: str | None  # None: held but withheld
    note: str = ""


@dataclass(frozen=True)
class NudgeAbout:
    week: str
    kind: str
    via: str  # "their manager" | "skip-level manager": never who
    delivery: str  # the digest's state, or "withdrawn"


@dataclass(frozen=True)
class DecisionAbout:
    week: str
    outcome: str
    reason: str
    kind: str | None
    via: str


@dataclass
class Explanation:
    employee_id: str
    generated_at: datetime
    opted_out: bool = False
    profile: list[Value] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    week: str | None = None
    score_method: str | None = None
    score_note: str = ""
    risk: float | None = None
    features: list[Value] = field(default_factory=list)
    drivers: list[Value] = field(default_factory=list)
    nudges: list[NudgeAbout] = field(default_factory=list)
    decisions: list[DecisionAbout] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExplainOptions:
    actor: str
    # The week to compute features and score for; None: the latest week with a completed run,
    # else the current week.
    week: IsoWeek | None = None
    # How a week is scored (`pipelines.weekly.score_stage` under the current settings); None: no score.
    score: Callable[[Features], Scores] | None = None


_PROFILE = ("name", "email", "hire_date", "status", "department", "job_title", "location", "exit_date", "exit_reason")


def explain(conn: duckdb.DuckDBPyConnection, employee_id: str, options: ExplainOptions) -> Explanation:
    """What the store holds on one person and what the system did about them; writes an audit row."""
    employee_id = check_id(employee_id)
    out = Explanation(employee_id=employee_id, generated_at=utcnow())
    out.held = _held(conn, employee_id)
    row = fetch_one(
        conn,
        f"select {', '.join(_PROFILE)}, manager_id is not null and manager_id <> employee_id, _file, _line"
        " from employees where employee_id = ?",
        [employee_id],
    )
    if row is None and not out.held:
        if forgotten_among(conn, [employee_id]):
            raise PrivacyError(f"employee id {employee_id!r} was forgotten: the store holds nothing about them")
        raise PrivacyError(
            f"the store holds nothing about employee id {employee_id!r}: check the id (ids are case-sensitive)"
        )
    if row is not None:
        out.profile = [Value(k, "none" if v is None else _show(v)) for k, v in zip(_PROFILE, row[: len(_PROFILE)], strict=True)]
        out.profile.append(Value("has a manager on record", "yes" if row[-3] else "no"))
        out.profile.append(Value("roster source", f"{row[-2]}, line {row[-1]}"))
        out.profile += [
            Value(f"attribute {n}", _show(v))
            for n, v in conn.execute(
                "select name, value from employee_attributes where employee_id = ? order by name", [employee_id]
            ).fetchall()
        ]
    else:
        out.notes.append("Not on the current roster: only the records below remain.")
    out.opted_out = bool(fetch_value(conn, "select count(*) from opt_out where employee_id = ?", [employee_id]))
    out.nudges = [
        NudgeAbout(w, k, "skip-level manager" if s else "their manager", d or "not queued")
        for w, k, s, d in conn.execute(
            "select n.week, n.kind, n.skip_level, o.state from nudges n left join outbox o using (week, manager_id)"
            " where n.employee_id = ? order by n.week, n.kind",
            [employee_id],
        ).fetchall()
    ]
    out.decisions = [
        DecisionAbout(w, o, r, k, "skip-level manager" if s else "their manager")
        for w, o, r, k, s in conn.execute(
            "select week, outcome, reason, kind, skip_level from decisions where employee_id = ? order by week",
            [employee_id],
        ).fetchall()
    ]
    if out.opted_out:
        out.notes.append("Opted out: never scored, never named in a digest, not used for training.")
    elif row is not None:
        _explain_score(conn, employee_id, options, out)
    write_audit(conn, options.actor, "explain", {"employee_id": employee_id, "week": out.week})
    log.info("explain: 1 person, %d tables with rows", len(out.held))
    return out


def _held(conn: duckdb.DuckDBPyConnection, employee_id: str) -> list[Held]:
    held: list[Held] = []
    sources = {s.name: s for s in SOURCES if s.event_time}
    for table, column in person_columns(conn):
        source = sources.get(table)
        subject = source is not None and column == next(c.name for c in source.columns if c.references_employee)
        t, c = quote_ident(table), quote_ident(column)
        if subject:
            assert source is not None and source.event_time is not None
            e = quote_ident(source.event_time)
            n, first, last = fetch_one(
                conn, f"select count(*), min(cast({e} as date)), max(cast({e} as date)) from {t} where {c} = ?",
                [employee_id],
            ) or (0, None, None)
        else:
            n, first, last = int(fetch_value(conn, f"select count(*) from {t} where {c} = ?", [employee_id]) or 0), None, None
        if n and (table, column) != ("employees", "employee_id"):
            held.append(Held(table, "subject" if subject or column == "employee_id" else f"as {column}", int(n), first, last))
    quarantined = int(fetch_value(conn, "select count(*) from quarantine where value = ?", [employee_id]) or 0)
    if quarantined:
        held.append(Held("quarantine", "their id as a rejected value", quarantined))
    return held


def _explain_score(conn: duckdb.DuckDBPyConnection, employee_id: str, options: ExplainOptions, out: Explanation) -> None:
    latest = fetch_value(conn, "select max(week) from runs where kind = 'weekly' and status = 'completed'")
    week = options.week or (IsoWeek.parse(latest) if latest else IsoWeek.containing(date.today()))
    out.week = str(week)
    features = compute_features(conn, week.as_of)
    mask = np.asarray(features["employee_id"] == employee_id, dtype=bool)
    if not mask.any():
        out.notes.append(f"Not on the roster for {week}: no features or score.")
        return
    one = Features(as_of=features.as_of, columns={k: v[mask] for k, v in features.columns.items()})
    for name, values in one.columns.items():
        if name in _NOT_FEATURES:
            continue
        if name in SURVEY_FEATURES:
            out.features.append(Value(name, None, "from survey answers: held, never shown per person"))
        elif name.startswith("team_"):
            out.features.append(Value(name, None, "a team aggregate (other people's data): not shown"))
        else:
            out.features.append(Value(name, _show(values[0])))
    if options.score is None:
        return
    scores = options.score(one)
    out.score_method, out.score_note = scores.method, scores.note
    out.risk = float(scores.risk[0])
    for signal, values in sorted(scores.drivers.items(), key=lambda kv: -float(np.nan_to_num(kv[1][0]))):
        if signal in SURVEY_DRIVERS:
            out.drivers.append(Value(signal, None, "from survey answers: held, never shown per person"))
        else:
            out.drivers.append(Value(signal, _show(values[0])))
    out.notes.append(
        f"Features and score recomputed now for {week} with the current {scores.method} score; a digest made"
        " that week used the score of the day."
    )


def _show(value: Any) -> str:
    if value is None or value is np.ma.masked:
        return "unknown"
    if isinstance(value, float | np.floating):
        if math.isnan(float(value)):
            return "unknown"
        return f"{float(value):.3g}" if abs(float(value)) < 1 else f"{float(value):,.1f}".removesuffix(".0")
    if isinstance(value, np.bool_ | bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def explanation_text(e: Explanation) -> str:
    """The page as plain text (what `retention explain` prints)."""
    lines = [f"What retention-nudges holds about employee {e.employee_id} (as of {e.generated_at:%Y-%m-%d %H:%M} UTC)", ""]
    lines += [f"- {n}" for n in e.notes]
    if e.notes:
        lines.append("")
    lines.append("Profile")
    lines += [f"  {v.name}: {v.value}" for v in e.profile] or ["  (not on the roster)"]
    lines += ["", "Records held (rows; dates of their own events)"]
    for h in e.held:
        span = f", {h.first} to {h.last}" if h.first else ""
        lines.append(f"  {h.table} ({h.role}): {h.rows:,} rows{span}")
    if not e.held:
        lines.append("  none")
    if e.week:
        lines += ["", f"Features for {e.week}"]
        lines += [f"  {v.name}: {v.value if v.value is not None else 'withheld (' + v.note + ')'}" for v in e.features]
    if e.score_method:
        lines += ["", f"Score ({e.score_method}): {e.risk:.3f}", "Drivers (how much restoring each signal would lower it)"]
        lines += [f"  {v.name}: {v.value if v.value is not None else 'withheld (' + v.note + ')'}" for v in e.drivers]
    lines += ["", "Nudges about them"]
    lines += [f"  {n.week}: {n.kind}, to {n.via}, {n.delivery}" for n in e.nudges] or ["  none"]
    lines += ["", "Decisions about them"]
    lines += [
        f"  {d.week}: {d.outcome} ({d.reason}){', ' + d.kind if d.kind else ''}, for {d.via}" for d in e.decisions
    ] or ["  none"]
    return "\n".join(lines) + "\n"


def explanation_html(e: Explanation) -> str:
    """The page as HTML (templates/explain.html, autoescaped)."""
    return environment().get_template("explain.html").render(e=e)
