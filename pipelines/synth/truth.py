"""The truth behind the drop folder, written to `_truth/`, and the oracle AUC.

Every person's latents, every person-month's true hazard and the model's
coefficients, so a model is judged against the best this data allows.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.synth.columns import (
    Ids,
    choices,
    dates,
    department_names,
    exit_dates,
    exit_reasons,
)
from pipelines.synth.employees import file_manager, statuses
from pipelines.synth.event_tables import concat
from pipelines.synth.hazard import HAZ
from pipelines.synth.simulation import PRIOR_CYCLES, Simulation
from pipelines.synth.writing import Written, write_csv


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC-AUC via the rank-sum (ties get average ranks)."""
    pos = int(label.sum())
    neg = label.size - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(score, kind="stable")
    s = score[order]
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = float(avg_rank[inv][label[order]].sum())
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def _json_number(x: float) -> float | None:
    """Rounded for the JSON file; null when undefined (no voluntary exit at all)."""
    return None if math.isnan(x) else round(x, 4)


HORIZON_MONTHS = 6  # the model's default label horizon (180 days), in simulated months


def horizon_oracle(pm: dict[str, np.ndarray], people: int, months: int) -> float:
    """ROC-AUC of the true hazard at a month start for "leaves voluntarily within the horizon".

    The same task the model is judged on, so the two numbers compare. NaN when
    the window is shorter than the horizon or nobody left.
    """
    person, month = pm["person"], pm["month"].astype(np.int64)
    first_exit = np.full(people, np.iinfo(np.int64).max)
    vol = pm["exit_type"] == 1
    np.minimum.at(first_exit, person[vol], month[vol])
    rows = month <= months - HORIZON_MONTHS
    label = first_exit[person[rows]] < month[rows] + HORIZON_MONTHS
    return _auc(pm["hazard_voluntary"][rows], label)


def write_truth(
    con: duckdb.DuckDBPyConnection,
    sim: Simulation,
    ids: Ids,
    written: Written,
    truth_dir: Path,
    spec: dict[str, object],
) -> float:
    """Write ground_truth.csv, person_months.parquet and ground_truth.json; return the oracle AUC.

    `spec` is the generation spec as plain values, with the resolved `end` as an ISO date.
    """
    P, tree, bad_kind = sim.org.P, sim.org.tree, written.bad_kind
    pm = concat(sim.person_months)
    auc_pm = _auc(pm["hazard_voluntary"], pm["exit_type"] == 1)
    auc_horizon = horizon_oracle(pm, P.n, sim.months)
    at_risk = P["at_risk"].astype(float)
    mean_h = np.where(at_risk > 0, P["cum_h"] / np.maximum(at_risk, 1), np.nan)
    sel = at_risk > 0
    auc_person = _auc(mean_h[sel], (P["exit_type"] == 1)[sel])
    status = statuses(sim)
    pos = P["pos"]
    pp = tree.parent[pos]
    at = np.where(status == 2, P["exit"] - 1, sim.end_day)
    true_mgr = np.where(pp >= 0, sim.org.occ.last(np.maximum(pp, 0), at), -1)
    file_mgr = file_manager(sim)
    ex = P["exit_type"].astype(np.int64)
    left = status == 2
    reorg = np.where(pp >= 0, sim.org.reorg[np.maximum(pp, 0)], -1)
    truth = pa.table(
        {
            "employee_id": ids.strings,
            "position": pa.array(pos),
            "level": pa.array(tree.level[pos]),
            "department": department_names(tree.dept[pos]),
            "manager_id_in_file": ids.take(file_mgr),
            "true_manager_id": ids.take(true_mgr),
            "stale_manager_pointer": pa.array(P["stale_mgr"] >= 0),
            "is_manager": pa.array(tree.n_children[pos] > 0),
            "hire_date": dates(P["hire"]),
            "status": choices(("active", "leave", "left"), status),
            "exited": pa.array(left),
            "exit_type": exit_reasons(left, P["exit_type"]),
            "exit_date": exit_dates(left, P["exit"]),
            "months_at_risk": pa.array(P["at_risk"].astype(np.int64)),
            "cumulative_voluntary_hazard": pa.array(np.round(P["cum_h"], 6)),
            "mean_monthly_voluntary_hazard": pa.array(np.round(mean_h, 6), from_pandas=True),
            "performance_latent": pa.array(np.round(P["perf"], 4)),
            "star": pa.array(P["perf"] > HAZ.star_threshold),
            "recognition_rate_per_month": pa.array(np.round(P["recog_rate"], 4)),
            "in_recognition_drought": pa.array(P["drought"].copy()),
            "career_talk_propensity": pa.array(np.round(P["career_p"], 4)),
            "autonomy_base": pa.array(np.round(P["auto_base"], 4)),
            "team_reorg_month": pa.array(reorg),
            "growth_base": pa.array(np.round(P["growth_base"], 4)),
            "frailty": pa.array(np.round(P["frailty"], 4)),
            "survey_response_rate": pa.array(np.round(P["resp"], 4)),
            "learning_rate_per_month": pa.array(np.round(P["learn_rate"], 4)),
            "promotions_in_window": pa.array(P["promotions"].astype(np.int64)),
            "months_since_promotion": pa.array(np.round(P["msp"], 2)),
            "as_manager_cancel_rate": pa.array(np.round(P["cancel"], 4)),
            "as_manager_one_on_ones_per_month": pa.array(P["cadence"].copy()),
            "bad_row_kind": pa.array([k or None for k in bad_kind.tolist()], type=pa.string()),
        }
    )
    write_csv(con, truth, truth_dir / "ground_truth.csv")
    month_starts = dates(sim.bounds[:-1])
    pm_table = pa.table(
        {
            "employee_id": ids.take(pm["person"]),
            "month_start": month_starts.take(pa.array(pm["month"].astype(np.int64))),
            **{k: pa.array(v) for k, v in pm.items() if k not in ("person", "month")},
        }
    )
    pq.write_table(pm_table, truth_dir / "person_months.parquet", compression="zstd")
    years = sim.months / 12.0
    start_day = int(sim.bounds[0])
    head_start, head_end = (int(((P["hire"] <= d) & (P["exit"] > d)).sum()) for d in (start_day, sim.end_day))
    headcount = (head_start + head_end) / 2.0
    vol, inv = int((ex == 1).sum()), int((ex == 2).sum())
    doc = {
        "spec": spec,
        "window": {
            "start": dates(sim.bounds[:1])[0].as_py(),
            "end": spec["end"],
            "month_starts": month_starts.to_pylist(),
        },
        "hazard": {
            **asdict(HAZ),
            "monthly_baseline": [
                {**b, "month_start": dates(np.array([b["month_start"]]))[0].as_py()} for b in sim.baselines
            ],
            "nudge_effect": spec["nudge_effect"],
            "nudge_effect_note": "h *= (1 - nudge_effect) in months after a followed-through nudge; "
            "the generator simulates no nudges yet, so it has no effect on this data",
            "signal_definitions": {
                "recognition_drought": "days since last recognition (capped 365), as log1p(days/30)",
                "one_on_one_lapse": "1 - held 1:1s in the last 3 months / 6 (scaled down for tenure < 91 days)",
                "no_career_talk": "days since a held 1:1 with the career topic (capped 365) / 365",
                "autonomy_low": "3.5 - latent autonomy (freedom/voice/decisions items measure it with noise)",
                "autonomy_drop": "latent autonomy 3 months ago minus now (team re-organisations slide it)",
                "growth_low": "3.5 - latent growth (growth item; recent learning helps, "
                "waiting for promotion hurts)",
                "since_promotion": "months since promotion or hire (capped 72) / 36; promotions.csv records them",
                "frailty": "per-person noise, invisible in the files",
            },
        },
        "counts": {
            "positions": int(tree.parent.size),
            "people": int(P.n),
            "headcount_start": head_start,
            "headcount_end": head_end,
            "voluntary_exits": vol,
            "involuntary_exits": inv,
            "voluntary_rate_per_year": round(vol / headcount / years, 4),
            "involuntary_rate_per_year": round(inv / headcount / years, 4),
            "on_leave_at_end": int((status == 1).sum()),
            "stale_manager_pointers": int(((P["stale_mgr"] >= 0) & ~left).sum()),
            "levels": int(tree.level.max()) + 1,
            "departments": int(tree.dept.max()) + 1,
            "rows": written.rows,
        },
        "oracle_auc": _json_number(auc_horizon),
        "oracle_auc_basis": f"monthly snapshots, as the model is trained and validated: score = true voluntary"
        f" hazard of an employee at a month start, label = voluntary exit within the next {HORIZON_MONTHS} months"
        " (the default 180-day horizon); months whose horizon runs past the window are left out",
        "oracle_auc_person_month": _json_number(auc_pm),
        "oracle_auc_person_month_basis": "person-months: score = true voluntary hazard of an employee at a "
        "month start, label = voluntary exit within that month (see _truth/person_months.parquet)",
        "oracle_auc_person": _json_number(auc_person),
        "oracle_auc_person_basis": "people at risk in the window: score = mean monthly voluntary hazard, "
        "label = left voluntarily in the window",
        "bad_rows": written.bad_counts,
        "conventions": {
            "ceo_manager_id": "the CEO row has manager_id equal to its own employee_id (no manager)",
            "stale_manager_pointers": "some reports keep pointing at a manager who left; route to skip-level",
            "exit_date": "first day no longer employed; events are dated before it",
            "review_history": f"performance also holds the {PRIOR_CYCLES} review cycles before the window "
            "start (dated before it); a review needs 90+ days of tenure at the cycle start",
            "bad_row_kinds": "missing_id, impossible_date, unknown_manager/unknown_employee, wrong_type, "
            "duplicate; events of people whose own employees row is bad also name an id missing from the "
            "clean employees table (see bad_row_kind in ground_truth.csv)",
        },
    }
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    (truth_dir / "ground_truth.json").write_text(text, encoding="utf-8")
    return round(auc_horizon, 4)  # as written to the JSON (nan when undefined)
