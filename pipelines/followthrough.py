"""Follow-through and the control group in the store: outcomes, credits, assignments, rates, demotions.

Each weekly run opens a follow-through row for every nudge sent (arm "nudged")
and every nudge withheld as a control (arm "control"), with a window of
`[followthrough] days` from the nudge's week; then it checks every open row
against the raw signals (`followthrough.sql`):

- done: the signal appeared inside the window (recognition reached the person,
  a 1:1 was held, a career or goals topic logged, a learning event, a survey
  answer higher than the one before);
- expired: the window is over and the data for that signal reaches its last day,
  with no signal (or that data never arrived, `GRACE_DAYS` after the window);
- not_yet: anything else; checked again next week.

Only this module writes `followthrough`, `assignments` and `catalog_decisions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from core.db import fetch_value, utcnow, with_ids
from nudges.catalog import NudgeKind
from nudges.experiment import CONTROL, NUDGED
from nudges.followthrough import Demotion, Resolved
from pipelines.weeks import IsoWeek

SIGNALS_SQL = (Path(__file__).with_name("followthrough.sql")).read_text(encoding="utf-8")
# A window whose data never arrives (a source stopped being exported) is closed this long after it ended.
GRACE_DAYS = 28
# Where each signal family's newest data is, to tell "expired" from "not in yet".
COVERAGE_SQL = {
    "recognition": "select max(given_at) from recognition",
    "one_on_ones": "select max(scheduled_at) from one_on_ones",
    "learning": "select max(completed_at) from learning",
    "survey": "select max(responded_at) from autonomy_survey",
}
SOURCE_OF_SIGNAL = {
    "recognition": "recognition",
    "credit": "recognition",
    "one_on_ones": "one_on_ones",
    "career": "one_on_ones",
    "goals": "one_on_ones",
    "plan": "one_on_ones",
    "growth": "learning",
    "autonomy": "survey",
    "voice": "survey",
}
WEEK_MONDAY = "cast(strptime({col} || '-1', '%G-W%V-%u') as date)"


@dataclass(frozen=True)
class Checked:
    """What one check changed (counts only)."""

    opened: int
    done: int
    expired: int
    open: int


def open_nudged(conn: duckdb.DuckDBPyConnection, before: IsoWeek, days: int) -> int:
    """A follow-through row for every nudge sent before `before` that has none yet."""
    start = WEEK_MONDAY.format(col="n.week")
    opened = int(
        fetch_value(
            conn,
            """
            select count(*) from nudges n
            where n.week < ? and not exists (
                select 1 from followthrough f where f.week = n.week and f.employee_id = n.employee_id and f.kind = n.kind)
            """,
            [str(before)],
        )
        or 0
    )
    conn.execute(
        f"""
        insert into followthrough
        select n.week, n.employee_id, n.kind, n.manager_id, '{NUDGED}', {start}, {start} + to_days(cast(? as integer)),
               'not_yet', null, ?, null
        from nudges n
        where n.week < ?
        on conflict do nothing
        """,
        [days, utcnow(), str(before)],
    )
    return opened


def record_controls(
    conn: duckdb.DuckDBPyConnection, week: IsoWeek, pairs: Sequence[tuple[str, str]], days: int
) -> None:
    """The nudges withheld this week as controls, checked later exactly like sent ones."""
    if not pairs:
        return
    start = week.monday
    batch = pa.table(
        {
            "employee_id": pa.array([e for e, _ in pairs], type=pa.string()),
            "kind": pa.array([k for _, k in pairs], type=pa.string()),
        }
    )
    conn.register("_controls", batch)
    try:
        conn.execute(
            f"""
            insert into followthrough
            select ?, employee_id, kind, null, '{CONTROL}', ?, ?, 'not_yet', null, ?, null from _controls
            on conflict do nothing
            """,
            [str(week), start, start + timedelta(days=days), utcnow()],
        )
    finally:
        conn.unregister("_controls")


def check(
    conn: duckdb.DuckDBPyConnection, today: date, days: int, before: IsoWeek, kinds: Iterable[NudgeKind]
) -> Checked:
    """Open rows for new nudges, then decide every open row's outcome as of `today`."""
    opened = open_nudged(conn, before, days)
    families = pa.table(
        {
            "kind": pa.array([k.id for k in kinds], type=pa.string()),
            "signal": pa.array([k.evidence for k in kinds], type=pa.string()),
        }
    )
    cover = {name: fetch_value(conn, sql) for name, sql in COVERAGE_SQL.items()}
    coverage = pa.table(
        {
            "signal": pa.array(list(SOURCE_OF_SIGNAL), type=pa.string()),
            "covered": pa.array([cover[s] for s in SOURCE_OF_SIGNAL.values()], type=pa.timestamp("us")),
        }
    )
    conn.register("_ft_kinds", families)
    conn.register("_ft_cover", coverage)
    try:
        conn.execute(f"create or replace temp table _ft_found as {SIGNALS_SQL}")
        conn.execute(
            """
            update followthrough f set
                signal_at = r.seen_at,
                checked_at = ?,
                outcome = case
                    when r.seen_at is not null then 'done'
                    when r.window_end <= ? and (c.covered >= r.window_end - to_days(1) or ? >= r.window_end + to_days(?)) then 'expired'
                    else 'not_yet' end
            from _ft_found r left join _ft_cover c using (signal)
            where f.week = r.week and f.employee_id = r.employee_id and f.kind = r.kind
            """,
            [utcnow(), today, today, GRACE_DAYS],
        )
        counts = dict(
            conn.execute(
                "select f.outcome, count(*) from followthrough f join _ft_found r using (week, employee_id, kind) group by 1"
            ).fetchall()
        )
    finally:
        conn.unregister("_ft_kinds")
        conn.unregister("_ft_cover")
        conn.execute("drop table if exists _ft_found")
    return Checked(opened, int(counts.get("done", 0)), int(counts.get("expired", 0)), int(counts.get("not_yet", 0)))


# --- credit for the manager ---------------------------------------------------------------

_CREDITABLE = f"""
    from followthrough f
    where f.arm = '{NUDGED}' and f.credited_week is null and f.manager_id is not null and f.week < $week
      and f.outcome in ('done', 'expired')
      and not exists (
          select 1 from followthrough g
          where g.arm = '{NUDGED}' and g.manager_id = f.manager_id and g.week = f.week and g.outcome = 'not_yet')
"""


def pending_credits(conn: duckdb.DuckDBPyConnection, week: IsoWeek) -> dict[str, list[Resolved]]:
    """Per manager, nudges of earlier weeks now fully resolved and not yet credited, by kind."""
    rows = conn.execute(
        f"select f.manager_id, f.kind, count(*) filter (where f.outcome = 'done'), count(*) {_CREDITABLE}"
        " group by 1, 2 order by 1, 2",
        {"week": str(week)},
    ).fetchall()
    found: dict[str, list[Resolved]] = {}
    for manager, kind, done, total in rows:
        found.setdefault(str(manager), []).append(Resolved(str(kind), int(done), int(total)))
    return found


def mark_credited(conn: duckdb.DuckDBPyConnection, week: IsoWeek, managers: Iterable[str]) -> None:
    """These managers' resolved nudges were credited in this week's digest: never again."""
    wanted = sorted(set(managers))
    if not wanted:
        return
    conn.register("_credited", pa.table({"manager_id": pa.array(wanted, type=pa.string())}))
    try:
        conn.execute(
            f"""
            update followthrough set credited_week = $week
            where (week, employee_id, kind) in (
                select (f.week, f.employee_id, f.kind) {_CREDITABLE}
                  and f.manager_id in (select manager_id from _credited))
            """,
            {"week": str(week)},
        )
    finally:
        conn.unregister("_credited")


# --- the control group ----------------------------------------------------------------------


def load_assignments(conn: duckdb.DuckDBPyConnection, ids: Iterable[str] | None = None) -> dict[tuple[str, str], str]:
    """Stored arms (of these people only, when given: the week's flagged stars, not years of pairs)."""
    if ids is None:
        rows = conn.execute("select employee_id, kind, arm from assignments").fetchall()
    else:
        rows = with_ids(conn, ids, "select a.employee_id, a.kind, a.arm from assignments a join _wanted_ids using (employee_id)")
    return {(str(e), str(k)): str(a) for e, k, a in rows}


def record_assignments(conn: duckdb.DuckDBPyConnection, week: IsoWeek, pairs: Sequence[tuple[str, str, str]]) -> None:
    """First assignments only: a pair's arm, once stored, never changes."""
    if not pairs:
        return
    batch = pa.table(
        {
            "employee_id": pa.array([e for e, _, _ in pairs], type=pa.string()),
            "kind": pa.array([k for _, k, _ in pairs], type=pa.string()),
            "arm": pa.array([a for _, _, a in pairs], type=pa.string()),
        }
    )
    conn.register("_assign", batch)
    try:
        conn.execute(
            "insert into assignments select employee_id, kind, arm, ?, ?, ? from _assign on conflict do nothing",
            [str(week), week.monday, utcnow()],
        )
    finally:
        conn.unregister("_assign")


def withheld_before(conn: duckdb.DuckDBPyConnection, week: IsoWeek) -> dict[tuple[str, str], date]:
    """When each (person, kind) was last withheld as a control: the same cooldown as a sent nudge."""
    rows = conn.execute(
        f"select employee_id, kind, max(window_start) from followthrough where arm = '{CONTROL}' and week < ? group by 1, 2",
        [str(week)],
    ).fetchall()
    return {(str(e), str(k)): d for e, k, d in rows}


# --- rates for HR and the catalog -------------------------------------------------------------


def rates_by(conn: duckdb.DuckDBPyConnection, by: str, *, arm: str = NUDGED, since: date | None = None) -> dict[str, tuple[int, int, int]]:
    """(done, resolved, pending) per kind or per department (the person's current one)."""
    if by not in ("kind", "department"):
        raise ValueError(f"rates by kind or department, not {by!r}")
    label = "f.kind" if by == "kind" else "coalesce(e.department, '(no department)')"
    rows = conn.execute(
        f"""
        select {label},
               count(*) filter (where f.outcome = 'done'),
               count(*) filter (where f.outcome in ('done', 'expired')),
               count(*) filter (where f.outcome = 'not_yet')
        from followthrough f left join employees e using (employee_id)
        where f.arm = ? and f.window_start >= ?
        group by 1
        """,
        [arm, since or date(1900, 1, 1)],
    ).fetchall()
    return {str(k): (int(d), int(r), int(p)) for k, d, r, p in rows}


def demoted_now(conn: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Kinds whose latest catalog decision is a demotion."""
    rows = conn.execute(
        "select kind from (select kind, arg_max(action, week) as action from catalog_decisions group by kind)"
        " where action = 'demoted'"
    ).fetchall()
    return frozenset(str(r[0]) for r in rows)


def record_demotions(conn: duckdb.DuckDBPyConnection, week: IsoWeek, changes: Sequence[Demotion]) -> None:
    for c in changes:
        conn.execute(
            "insert into catalog_decisions values (?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
            [str(week), c.kind, c.action, c.rate, c.resolved, c.floor, utcnow()],
        )


@dataclass(frozen=True)
class ArmCounts:
    """Per kind and arm: signal recovered (k of n final outcomes), voluntary exits within the horizon."""

    kind: str
    recovered: dict[str, tuple[int, int]]
    exits: dict[str, tuple[int, int]]


def experiment_counts(conn: duckdb.DuckDBPyConnection, today: date, horizon_days: int) -> tuple[list[ArmCounts], date | None]:
    """Counts for HR's with/without comparison, and the week the first control was assigned."""
    recovery = conn.execute(
        "select kind, arm, count(*) filter (where outcome = 'done'), count(*) from followthrough"
        " where outcome in ('done', 'expired') group by 1, 2"
    ).fetchall()
    exits = conn.execute(
        """
        select a.kind, a.arm,
               count(*) filter (where e.exit_reason = 'voluntary' and e.exit_date >= a.week_start
                                and e.exit_date < a.week_start + to_days(cast($h as integer))),
               count(*)
        from assignments a left join employees e using (employee_id)
        where a.week_start + to_days(cast($h as integer)) <= $today
        group by 1, 2
        """,
        {"h": horizon_days, "today": today},
    ).fetchall()
    first = fetch_value(conn, f"select min(week_start) from assignments where arm = '{CONTROL}'")
    by_kind: dict[str, ArmCounts] = {}
    for kind, arm, k, n in recovery:
        by_kind.setdefault(str(kind), ArmCounts(str(kind), {}, {})).recovered[str(arm)] = (int(k), int(n))
    for kind, arm, k, n in exits:
        by_kind.setdefault(str(kind), ArmCounts(str(kind), {}, {})).exits[str(arm)] = (int(k), int(n))
    return [by_kind[k] for k in sorted(by_kind)], first


def overall_rates(
    conn: duckdb.DuckDBPyConnection, kinds: Mapping[str, NudgeKind], since: date
) -> dict[str, tuple[int, int]]:
    """(done, resolved) per kind since `since`, nudged arm: what demotion looks at."""
    return {k: (d, r) for k, (d, r, _) in rates_by(conn, "kind", since=since).items() if k in kinds}
