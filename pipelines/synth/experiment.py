"""Weeks of nudging a synthetic org with a known truth, to check the uplift estimator against it.

Starts from a store holding a synthetic org (`pipelines.synthetic.generate`,
ingested) and each person's true monthly voluntary hazard from its ground truth.
Then, week by week, through the product's own code wherever it decides
anything (the control coin, assignments, controls, the follow-through check,
the HR counts):

1. each active person becomes eligible for each studied kind with probability
   `eligible_per_week` (once per kind), and the stored coin sends the pair to
   the nudged or control arm;
2. a manager follows through on a sent nudge with probability
   `follow_probability`, and the signal the kind asks for appears two days in;
   otherwise (and for every control) it appears anyway with probability
   `base_recovery`, five days in;
3. each active person leaves with their weekly hazard, multiplied by
   `1 - nudge_effect` once a nudge about them has been followed through.

The truth the estimator should recover: signal recovery is higher by
`follow_probability * (1 - base_recovery)` with the nudge; voluntary exits
within the horizon differ by the average over the counted pairs of
`p * ((1 - h)^W - (1 - h * (1 - e))^W)` (h the weekly hazard, W the horizon's weeks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from nudges.catalog import load_catalog
from nudges.experiment import CONTROL, arm_for
from nudges.uplift import Difference, Rate, difference
from pipelines.followthrough import (
    check,
    experiment_counts,
    load_assignments,
    record_assignments,
    record_controls,
)
from pipelines.weekly.record import record_nudges
from pipelines.weeks import IsoWeek

# The kinds studied, with the raw event that is their signal: (table, topics).
STUDIED = {"one_on_one_lapse": (), "career_conversation": ("career",), "stale_goals": ("goals",)}


@dataclass(frozen=True)
class ExperimentSpec:
    weeks: int = 26
    nudge_effect: float = 0.5  # true hazard reduction once a nudge is followed through
    follow_probability: float = 0.6
    base_recovery: float = 0.25
    eligible_per_week: float = 0.05
    holdout_share: float = 0.3
    seed: int = 0
    followthrough_days: int = 14
    exit_horizon_days: int = 84
    max_half_width: float = 0.10
    exit_max_half_width: float = 0.01


@dataclass
class ExperimentResult:
    recovery: dict[str, Difference] = field(default_factory=dict)
    exits: dict[str, Difference] = field(default_factory=dict)
    true_recovery_uplift: float = 0.0
    true_exit_difference: dict[str, float] = field(default_factory=dict)
    pairs: int = 0


def monthly_hazards(truth_dir: Path) -> dict[str, float]:
    """Each person's true voluntary hazard in the generator's last month."""
    rows = duckdb.execute(
        "select employee_id, arg_max(hazard_voluntary, month_start) from read_parquet($p) group by 1",
        {"p": str(truth_dir / "person_months.parquet")},
    ).fetchall()
    return {str(e): float(h) for e, h in rows}


def simulate(conn: duckdb.DuckDBPyConnection, spec: ExperimentSpec, hazards: dict[str, float], start: IsoWeek) -> ExperimentResult:
    """Run `spec.weeks` weeks from `start` on the store, then read the product's estimates."""
    rng = np.random.default_rng(spec.seed)
    kinds = load_catalog().kind
    people = [str(r[0]) for r in conn.execute("select employee_id from employees where status = 'active' order by 1").fetchall()]
    index = {p: i for i, p in enumerate(people)}
    weekly = 1 - (1 - np.array([hazards.get(p, 0.0) for p in people])) ** (12 / 52)
    active = np.ones(len(people), dtype=bool)
    followed = np.zeros(len(people), dtype=bool)  # a nudge about them was followed through
    seen: set[tuple[str, str]] = set()
    manager = dict(conn.execute("select employee_id, manager_id from employees").fetchall())
    for w in range(spec.weeks):
        week = start.shift(w)
        monday = datetime.combine(week.monday, time.min)
        stored = load_assignments(conn)
        pairs, nudges, controls, events = [], [], [], []
        for kind, topics in STUDIED.items():
            fires = active & (rng.random(len(people)) < spec.eligible_per_week)
            for i in np.flatnonzero(fires):
                person = people[i]
                if (person, kind) in seen:
                    continue
                seen.add((person, kind))
                arm = arm_for(person, kind, share=spec.holdout_share, seed=spec.seed, stored=stored)
                pairs.append((person, kind, arm))
                if arm == CONTROL:
                    controls.append((person, kind))
                    acted = False
                else:
                    nudges.append((str(week), manager.get(person) or person, person, kind, False, 0.5))
                    acted = bool(rng.random() < spec.follow_probability)
                    followed[i] |= acted
                if acted:
                    events.append((person, monday + timedelta(days=2, hours=10), list(topics)))
                elif rng.random() < spec.base_recovery:
                    events.append((person, monday + timedelta(days=5, hours=10), list(topics)))
        record_assignments(conn, week, pairs)
        record_nudges(conn, nudges)
        record_controls(conn, week, controls, spec.followthrough_days)
        # Someone's cancelled 1:1 on the Sunday keeps the data current, so windows can close.
        events.append(("_coverage", monday + timedelta(days=6, hours=12), [], "cancelled"))  # type: ignore[arg-type]
        _add_one_on_ones(conn, manager, events)
        leaving = active & (rng.random(len(people)) < np.where(followed, weekly * (1 - spec.nudge_effect), weekly))
        _leave(conn, [people[i] for i in np.flatnonzero(leaving)], week.monday + timedelta(days=6))
        active &= ~leaving
        check(conn, week.shift(1).monday, spec.followthrough_days, week.shift(1), kinds)
    end = start.shift(spec.weeks + 3)  # let the last windows close
    check(conn, end.monday, spec.followthrough_days, end, kinds)
    return _estimates(conn, spec, start, end, weekly, index)


def _estimates(
    conn: duckdb.DuckDBPyConnection,
    spec: ExperimentSpec,
    start: IsoWeek,
    end: IsoWeek,
    weekly: np.ndarray,
    index: dict[str, int],
) -> ExperimentResult:
    counts, _ = experiment_counts(conn, end.monday, spec.exit_horizon_days)
    result = ExperimentResult(true_recovery_uplift=spec.follow_probability * (1 - spec.base_recovery))
    weeks = spec.exit_horizon_days // 7
    for row in counts:
        if row.kind not in STUDIED:
            continue
        for target, measured, width in (
            (result.recovery, row.recovered, spec.max_half_width),
            (result.exits, row.exits, spec.exit_max_half_width),
        ):
            target[row.kind] = difference(
                Rate(*measured.get("nudged", (0, 0))), Rate(*measured.get("control", (0, 0))),
                max_half_width=width, weeks_so_far=spec.weeks,
            )
        counted = conn.execute(
            "select employee_id from assignments where kind = ? and week_start + to_days(?) <= ?",
            [row.kind, spec.exit_horizon_days, end.monday],
        ).fetchall()
        h = weekly[[index[str(e)] for (e,) in counted]]
        effect = spec.follow_probability * ((1 - h) ** weeks - (1 - h * (1 - spec.nudge_effect)) ** weeks)
        result.true_exit_difference[row.kind] = float(effect.mean()) if len(effect) else 0.0
    result.pairs = int(conn.execute("select count(*) from assignments").fetchone()[0])  # type: ignore[index]
    return result


def _add_one_on_ones(conn: duckdb.DuckDBPyConnection, manager: dict[str, str], events: list[tuple]) -> None:
    table = pa.table(
        {
            "manager_id": pa.array([manager.get(e[0]) or e[0] for e in events], type=pa.string()),
            "employee_id": pa.array([e[0] for e in events], type=pa.string()),
            "scheduled_at": pa.array([e[1] for e in events], type=pa.timestamp("us")),
            "status": pa.array([e[3] if len(e) > 3 else "held" for e in events], type=pa.string()),
            "topics": pa.array([e[2] for e in events], type=pa.list_(pa.string())),
        }
    )
    conn.register("_sim_events", table)
    try:
        conn.execute(
            "insert into one_on_ones select manager_id, employee_id, scheduled_at, status, 30, topics, 'simulated', 0"
            " from _sim_events"
        )
    finally:
        conn.unregister("_sim_events")


def _leave(conn: duckdb.DuckDBPyConnection, ids: list[str], day: object) -> None:
    if not ids:
        return
    conn.register("_sim_leavers", pa.table({"employee_id": pa.array(ids, type=pa.string())}))
    try:
        conn.execute(
            "update employees set status = 'left', exit_date = ?, exit_reason = 'voluntary'"
            " where employee_id in (select employee_id from _sim_leavers)",
            [day],
        )
    finally:
        conn.unregister("_sim_leavers")
