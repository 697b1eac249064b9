"""Deliberately bad rows: which rows may be corrupted, and how, counted exactly for the truth."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.contract import Source
from pipelines.synth.columns import choices, unknown_ids

_BAD_DATES = ("2025-13-45", "not-a-date", "2999-01-01")
_BAD_TIMESTAMPS = ("2025-13-45 10:00:00", "not-a-date", "2999-01-01 09:00:00")

# source -> kind -> (column, replacement values); "duplicate" needs no column.
_BAD_PLAN: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "employees": {
        "missing_id": ("employee_id", ()),
        "impossible_date": ("hire_date", _BAD_DATES),
        "unknown_manager": ("manager_id", ()),
        "wrong_type": ("status", ("maybe",)),
    },
    "performance": {
        "missing_id": ("employee_id", ()),
        "impossible_date": ("review_date", _BAD_DATES),
        "unknown_employee": ("employee_id", ()),
        "wrong_type": ("rating", ("excellent", "good")),
    },
    "recognition": {
        "missing_id": ("recipient_id", ()),
        "impossible_date": ("given_at", _BAD_TIMESTAMPS),
        "unknown_employee": ("recipient_id", ()),
        "wrong_type": ("points", ("lots", "many")),
    },
    "one_on_ones": {
        "missing_id": ("employee_id", ()),
        "impossible_date": ("scheduled_at", _BAD_TIMESTAMPS),
        "unknown_employee": ("employee_id", ()),
        "wrong_type": ("status", ("maybe",)),
    },
    "autonomy_survey": {
        "missing_id": ("employee_id", ()),
        "impossible_date": ("responded_at", _BAD_TIMESTAMPS),
        "unknown_employee": ("employee_id", ()),
        "wrong_type": ("score", ("7", "high")),
    },
    "learning": {
        "missing_id": ("employee_id", ()),
        "impossible_date": ("completed_at", _BAD_TIMESTAMPS),
        "unknown_employee": ("employee_id", ()),
    },
    "promotions": {
        "missing_id": ("employee_id", ()),
        "impossible_date": ("effective_date", _BAD_DATES),
        "unknown_employee": ("employee_id", ()),
    },
}


class EmployeeBadRows:
    """Which employee rows may be corrupted, and what each corrupted person got."""

    def __init__(self, pool: np.ndarray, n: int) -> None:
        self.pool = pool
        self.kind = np.full(n, "", dtype=object)

    def flag(self, rows_by_kind: dict[str, np.ndarray]) -> None:
        """Remember the kind per person (employee rows are in person order)."""
        for kind, rows in rows_by_kind.items():
            self.kind[rows] = kind


def employee_bad_pool(
    leaf: np.ndarray, status: np.ndarray, mgr: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Leaf employees that may be corrupted without breaking the tree.

    Leavers are free; of the people still here at most one per team, and only in
    teams with 4+ people, so every active manager keeps 3+ clean reports.
    """
    leavers = np.flatnonzero(leaf & (status == 2))
    here = status != 2
    team = np.bincount(mgr[here], minlength=leaf.size)
    cand = np.flatnonzero(leaf & here & (team[mgr] >= 4))
    cand = cand[rng.permutation(cand.size)]
    _, first = np.unique(mgr[cand], return_index=True)
    return np.sort(np.concatenate([leavers, cand[first]]))


def inject_bad_rows(
    table: pa.Table,
    source: Source,
    rng: np.random.Generator,
    share: float,
    pool: np.ndarray | None,
    width: int,
) -> tuple[pa.Table, dict[str, int], dict[str, np.ndarray]]:
    """Corrupt about `share` of the rows, every applicable kind at least once.

    Replacement kinds overwrite one cell of distinct rows; `duplicate` appends
    an exact copy right after its original. Returns the counts per kind and the
    original row numbers per kind.
    """
    plan = _BAD_PLAN[source.name]
    kinds = [*plan, "duplicate"]
    n = table.num_rows
    if share <= 0 or n == 0:
        return table, {k: 0 for k in kinds}, {}
    total = max(len(kinds), round(share * n))
    candidates = np.arange(n) if pool is None else pool
    total = min(total, candidates.size)
    chosen = rng.choice(candidates, size=total, replace=False)
    per_kind = np.full(len(kinds), total // len(kinds))
    per_kind[: total % len(kinds)] += 1
    splits = np.split(chosen, np.cumsum(per_kind)[:-1])
    counts: dict[str, int] = {}
    rows_by_kind: dict[str, np.ndarray] = {}
    cols = {name: table.column(name).combine_chunks() for name in table.column_names}
    for kind, rows in zip(kinds, splits, strict=True):
        rows = np.sort(rows)
        counts[kind] = int(rows.size)
        rows_by_kind[kind] = rows
        if kind == "duplicate" or rows.size == 0:
            continue
        column, values = plan[kind]
        if kind == "missing_id":
            repl = pa.nulls(rows.size, pa.string())
        elif kind.startswith("unknown"):
            repl = unknown_ids(rng, rows.size, width)
        else:
            repl = choices(values, np.arange(rows.size) % len(values))
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        cols[column] = pc.replace_with_mask(cols[column], pa.array(mask), repl)
    out = pa.table(cols)
    dup = rows_by_kind["duplicate"]
    if dup.size:
        rows = np.concatenate([np.arange(n), dup])
        out = out.take(pa.array(rows[np.argsort(rows, kind="stable")]))
    return out, counts, rows_by_kind
