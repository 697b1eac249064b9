"""employees.csv as the HRIS shows it at the end of the window (stale manager pointers kept)."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.synth.bad_rows import EmployeeBadRows, employee_bad_pool
from pipelines.synth.columns import (
    Ids,
    choices,
    dates,
    department_names,
    exit_dates,
    exit_reasons,
)
from pipelines.synth.simulation import Simulation
from pipelines.synth.vocab import DEPARTMENTS, FIRST, LAST, LOCATIONS, ROLES, SENIORITY


def file_manager(sim: Simulation) -> np.ndarray:
    """Manager index as the HRIS shows it (self for the CEO, stale pointers kept)."""
    P = sim.org.P
    left = P["exit"] <= sim.end_day
    at = np.where(left, P["exit"] - 1, sim.end_day)
    pp = sim.org.tree.parent[P["pos"]]
    mgr = np.where(pp >= 0, sim.org.occ.last(np.maximum(pp, 0), at), np.arange(P.n))
    return np.where(P["stale_mgr"] >= 0, P["stale_mgr"], mgr)


def statuses(sim: Simulation) -> np.ndarray:
    """0 active, 1 on leave, 2 left, as of the end of the window."""
    P, end = sim.org.P, sim.end_day
    left = P["exit"] <= end
    leave = ~left & (P["leave_start"] <= end) & (end < P["leave_end"])
    return np.where(left, 2, np.where(leave, 1, 0))


def _ascii(text: str) -> str:
    """Lower-case ASCII slug of a name for email addresses (José -> jose)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("ø", "o")


def employees_table(sim: Simulation, ids: Ids, rng: np.random.Generator) -> tuple[pa.Table, EmployeeBadRows]:
    """employees.csv rows, one per person, plus which rows may be made bad."""
    P, tree = sim.org.P, sim.org.tree
    n = P.n
    pos = P["pos"]
    status = statuses(sim)
    mgr = file_manager(sim)
    first, last = list(FIRST), list(LAST)
    f_codes, l_codes = P["first"].astype(np.int64), P["last"].astype(np.int64)
    name = pc.binary_join_element_wise(choices(first, f_codes), choices(last, l_codes), " ")
    slug = pc.binary_join_element_wise(
        choices([_ascii(f) for f in first], f_codes),
        choices([_ascii(s) for s in last], l_codes),
        pa.array(np.arange(1, n + 1)).cast(pa.string()),
        ".",
    )
    email = pc.binary_join_element_wise(slug, "example.com", "@")
    dept = tree.dept[pos]
    level = tree.level[pos]
    is_mgr = tree.n_children[pos] > 0
    seniority = np.clip(P["seniority"] + P["promotions"], 0, len(SENIORITY) - 1)
    titles = ["Chief Executive Officer"]
    titles += [f"VP, {d}" for d in DEPARTMENTS]
    titles += [f"Director, {d}" for d in DEPARTMENTS]
    titles += [f"{d} Manager" for d in DEPARTMENTS]
    ic_base = len(titles)
    titles += [f"{s}{r}" for roles in ROLES for r in roles for s in SENIORITY]
    nd = len(DEPARTMENTS)
    ic_code = ic_base + (np.maximum(dept, 0) * 3 + tree.role[pos]) * len(SENIORITY) + seniority
    title_code = np.select(
        [pos == 0, level == 1, is_mgr & (level == 2), is_mgr],
        [0, 1 + dept, 1 + nd + dept, 1 + 2 * nd + dept],
        ic_code,
    )
    left = status == 2
    table = pa.table(
        {
            "employee_id": ids.strings,
            "email": email,
            "manager_id": ids.take(mgr),
            "hire_date": dates(P["hire"]),
            "status": choices(("active", "leave", "left"), status),
            "name": name,
            "department": department_names(dept),
            "job_title": choices(titles, title_code),
            "location": choices(LOCATIONS, P["loc"].astype(np.int64)),
            "exit_date": exit_dates(left, P["exit"]),
            "exit_reason": exit_reasons(left, P["exit_type"]),
        }
    )
    pool = employee_bad_pool(sim.org.tree.n_children[pos] == 0, status, mgr, rng)
    return table, EmployeeBadRows(pool, n)
