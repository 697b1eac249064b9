"""A synthetic organisation: a deterministic drop folder with a known truth.

The demo, the tests and the benchmarks all stand on this data, so it has to
behave like a real organisation (hierarchy, churn, signals that move, messy
rows) *and* carry the truth that produced it: every voluntary exit is drawn
from a monthly hazard driven by the very signals written to the drop folder
(recognition droughts, lapsed 1:1s, no career talk, sliding autonomy, a long
wait for promotion), plus per-person noise. The truth goes to `_truth/` so a
model can be judged against the ceiling ("oracle AUC"), not a fixed number.

Conventions downstream code must know:
- The CEO's `manager_id` is their own `employee_id` (self-reference = no manager).
- Everyone else's `manager_id` names their manager at the end of the window
  (leavers: at their exit). A few people keep pointing at a manager who has
  left (HRIS never updated); route them to the skip-level.
- `exit_date` is the first day no longer employed; events are dated before it.
- Every position is filled at the end of the window (backfills are hired on or
  before `end`), so active managers have 3-12 direct reports in the clean file.
- Bad rows are deliberate and counted per file and kind in
  `_truth/ground_truth.json` (`bad_rows`).

Everything is vectorised with numpy; the only Python loops run over months,
tree levels, files and columns, never over people or events.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.contract import (
    AUTONOMY_SURVEY,
    EMPLOYEES,
    LEARNING,
    ONE_ON_ONES,
    PERFORMANCE,
    RECOGNITION,
    Source,
)

__all__ = ["SynthResult", "SynthSpec", "generate"]

# progress(stage label, overall fraction done in [0, 1], never decreasing)
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class SynthSpec:
    """What to generate; the same spec (with an explicit `end`) gives the same bytes."""

    employees: int = 1000  # active headcount at the start of the window
    months: int = 12  # length of signal history
    seed: int = 0
    end: dt.date | None = None  # history ends on this date; None = today
    bad_row_share: float = 0.01  # share of deliberately bad rows per file
    # Multiplicative hazard reduction for followed-through nudges. The generator
    # simulates no nudges yet (so no effect); it is stored in the ground truth
    # so effectiveness measurement can later be checked against it.
    nudge_effect: float = 0.0


@dataclass(frozen=True)
class SynthResult:
    """What was written, so a CLI can report it without re-reading files."""

    out_dir: Path
    files: dict[str, Path]  # source name -> file written
    rows: dict[str, int]  # source name -> data rows written (incl. bad rows)
    bad_rows: dict[str, int]  # source name -> bad rows injected
    employees: int  # rows in employees.csv
    voluntary_exits: int
    involuntary_exits: int
    oracle_auc: float


@dataclass(frozen=True)
class _Hazard:
    """True hazard model; written verbatim to ground_truth.json.

    Monthly voluntary hazard of an employee at risk at a month start:
    h = b_m * tenure_multiplier * exp(sum(beta * x) + frailty), capped, where
    b_m rescales so the month's mean hazard matches `voluntary_per_year`.
    """

    voluntary_per_year: float = 0.135
    involuntary_per_year: float = 0.03
    # x = log1p(min(days since last recognition, 365) / 30)
    beta_recognition_drought: float = 0.65
    # extra drought sensitivity for stars (performance latent > star_threshold)
    beta_star_drought: float = 0.35
    # x = 1 - held 1:1s in the last 3 months / 6 (clipped to [0, 1])
    beta_one_on_one_lapse: float = 1.6
    # x = min(days since a 1:1 with a career topic, 365) / 365
    beta_no_career_talk: float = 1.1
    # x = clip(3.5 - latent autonomy, 0, 2.5)
    beta_autonomy_low: float = 0.75
    # x = clip(latent autonomy 3 months ago - now, 0, 2)
    beta_autonomy_drop: float = 1.0
    # x = clip(3.5 - latent growth, 0, 2.5)
    beta_growth_low: float = 0.6
    # x = min(months since promotion, 72) / 36
    beta_since_promotion: float = 0.6
    frailty_sd: float = 0.55
    star_threshold: float = 0.85
    # tenure (years) upper bounds and the multiplier below each; the last
    # multiplier applies beyond the last bound
    tenure_bounds: tuple[float, ...] = (1.0, 2.0, 5.0)
    tenure_multipliers: tuple[float, ...] = (1.8, 1.5, 1.0, 0.75)
    # involuntary: h_inv = c_m * exp(beta * performance latent), signals play no role
    beta_involuntary_performance: float = -0.9
    voluntary_cap: float = 0.6
    involuntary_cap: float = 0.3


_HAZ = _Hazard()
_NEVER = 10_000_000  # exit day for people still employed (far future)
_SPAN = 1 << 22  # days per position block in the occupancy index
_TOPICS = ("career", "goals", "feedback", "project", "wellbeing")
_TOPIC_P = (0.35, 0.3, 0.5, 0.15)  # goals, feedback, project, wellbeing (career is per person)
_ITEMS = ("freedom", "voice", "decisions", "growth")
_STATUS_1ON1 = ("held", "cancelled", "no_show")
_NO_SHOW_P = 0.03
_DEPARTMENTS = (
    "Engineering", "Sales", "Customer Success", "Marketing", "Product", "Operations",
    "Finance", "People", "Data", "Design", "Legal", "Support",
)
# relative department sizes (in `_DEPARTMENTS` order)
_DEPARTMENT_WEIGHT = (1.8, 1.4, 1.1, 0.8, 0.8, 0.8, 0.6, 0.55, 0.8, 0.6, 0.45, 1.0)
_ROLES = (
    ("Software Engineer", "QA Engineer", "Site Reliability Engineer"),
    ("Account Executive", "Sales Development Rep", "Solutions Consultant"),
    ("Customer Success Manager", "Onboarding Specialist", "Renewals Specialist"),
    ("Marketing Specialist", "Content Strategist", "Growth Marketer"),
    ("Product Manager", "Product Analyst", "Technical Writer"),
    ("Operations Analyst", "Program Coordinator", "Facilities Coordinator"),
    ("Financial Analyst", "Accountant", "Payroll Specialist"),
    ("HR Business Partner", "Recruiter", "People Operations Specialist"),
    ("Data Analyst", "Data Scientist", "Data Engineer"),
    ("Product Designer", "UX Researcher", "Brand Designer"),
    ("Legal Counsel", "Paralegal", "Compliance Analyst"),
    ("Support Engineer", "Support Specialist", "Support Analyst"),
)
_SENIORITY = ("", "Senior ", "Staff ", "Principal ")
_LOCATIONS = ("London", "Berlin", "New York", "Austin", "Remote", "Lisbon", "Singapore", "Toronto")
_LOCATION_P = (0.22, 0.14, 0.16, 0.1, 0.18, 0.07, 0.06, 0.07)
_FIRST = (
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Bea", "Ben", "Carla", "Chen", "Chloé", "Dan",
    "Dara", "Elena", "Emeka", "Eva", "Farah", "Felix", "Grace", "Hana", "Hugo", "Inês",
    "Ivan", "Jade", "Jonas", "José", "Kai", "Kemi", "Lars", "Lea", "Leo", "Lina", "Luca",
    "Maya", "Mei", "Mo", "Nadia", "Nina", "Noah", "Omar", "Priya", "Raj", "Rosa", "Sam",
    "Sara", "Søren", "Tariq", "Tom", "Uma", "Yara", "Zoë",
)
_LAST = (
    "Adeyemi", "Ali", "Bauer", "Brown", "Cohen", "Costa", "Dubois", "Eriksen", "Fischer",
    "García", "Haddad", "Ito", "Jensen", "Kim", "Kowalski", "Larsen", "Lopez", "Müller",
    "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Patel", "Petrov", "Quinn", "Rossi",
    "Santos", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Usman", "Varga", "Wang",
    "Weber", "Xu", "Yilmaz", "Zhang",
)
_CHANNELS = ("peer-app", "slack", "email", "all-hands")
_CHANNEL_P = (0.5, 0.3, 0.12, 0.08)
_POINTS = (5, 10, 20, 50)
_POINTS_P = (0.4, 0.3, 0.2, 0.1)
_MESSAGES = (
    "Thanks for the help with the release!",
    "Great job on the customer demo, really well done.",
    'You went "above and beyond" on the migration.',
    "Thank you for covering for me this week",
    "Calm, clear and quick during the incident, thanks!",
    "Loved your write-up, so easy to follow.",
    'Thanks for the "quick question" that saved us a week',
    "Brilliant onboarding session, thank you",
    "Thanks for pairing with me on the tricky bug.",
    "Your feedback on the plan made it much better, thanks.",
    "Huge thanks for staying late to ship the fix",
    "Thank you for mentoring the new joiners, they love it",
    "Great presentation at the all-hands!",
    'Thanks for saying "no" to scope creep, and explaining why.',
    "Thanks for tidying up the backlog",
    "You made the quarter-end close painless, thank you.",
)
_LEARNING_KINDS = ("course", "book", "workshop", "conference", "mentoring", "certification")
_LEARNING_P = (0.42, 0.16, 0.16, 0.06, 0.12, 0.08)
_DURATIONS = (15, 25, 30, 45, 60)
_DURATION_P = (0.1, 0.2, 0.45, 0.15, 0.1)
_REVIEW_MONTHS = (1, 7)  # semi-annual review cycles start on the 15th of these months
_BAD_DATES = ("2025-13-45", "not-a-date", "2999-01-01")
_BAD_TIMESTAMPS = ("2025-13-45 10:00:00", "not-a-date", "2999-01-01 09:00:00")


# --------------------------------------------------------------------------- API


def generate(spec: SynthSpec, out_dir: Path, *, progress: Progress | None = None) -> SynthResult:
    """Write a synthetic drop folder (and its truth in `_truth/`) into `out_dir`."""
    _validate(spec)
    report: Progress = progress or _no_progress
    rng = np.random.default_rng(spec.seed)
    end = spec.end or dt.date.today()
    bounds = _month_bounds(end, spec.months)
    tree = _build_tree(spec.employees, rng)
    report("organisation", 0.02)
    sim = _Simulation(spec, tree, bounds, rng)
    sim.run(report)

    out_dir = Path(out_dir)
    truth_dir = out_dir / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    ids = _id_strings(sim.P.n)
    employees, emp_bad_rows = _employees_table(sim, ids, rng)
    files: dict[str, Path] = {}
    rows: dict[str, int] = {}
    bad_counts: dict[str, dict[str, int]] = {}
    con = duckdb.connect()
    try:
        sources = (EMPLOYEES, PERFORMANCE, RECOGNITION, ONE_ON_ONES, AUTONOMY_SURVEY, LEARNING)
        for i, source in enumerate(sources):
            if source.name == EMPLOYEES.name:
                table, kinds, rows_by_kind = _inject_bad_rows(
                    employees, source, rng, spec.bad_row_share, emp_bad_rows.pool, ids.width
                )
                emp_bad_rows.flag(rows_by_kind)
            else:
                table = _event_table(sim, ids, source.name)
                table, kinds, _ = _inject_bad_rows(table, source, rng, spec.bad_row_share, None, ids.width)
            path = out_dir / f"{source.name}.csv"
            _write_csv(con, table, path)
            files[source.name] = path
            rows[source.name] = table.num_rows
            bad_counts[source.name] = kinds
            del table  # keep one file's table in memory at a time
            report("write", 0.7 + 0.25 * (i + 1) / len(sources))
        report("truth", 0.96)
        auc_pm = _write_truth(con, sim, ids, emp_bad_rows.kind, truth_dir, spec, end, bad_counts, rows)
    finally:
        con.close()
    report("done", 1.0)
    exit_type = sim.P["exit_type"]
    return SynthResult(
        out_dir=out_dir,
        files=files,
        rows=rows,
        bad_rows={name: sum(k.values()) for name, k in bad_counts.items()},
        employees=rows[EMPLOYEES.name],
        voluntary_exits=int((exit_type == 1).sum()),
        involuntary_exits=int((exit_type == 2).sum()),
        oracle_auc=auc_pm,
    )


def _no_progress(stage: str, fraction: float) -> None:
    """Default progress sink: generation is silent unless a CLI listens."""


def _validate(spec: SynthSpec) -> None:
    """Reject specs the generator cannot honour before any file is touched."""
    if spec.employees < 20:
        raise ValueError("synthetic org needs at least 20 employees")
    if spec.months < 1:
        raise ValueError("synthetic org needs at least one month of history")
    if not 0.0 <= spec.bad_row_share <= 0.2:
        raise ValueError("bad_row_share must be between 0 and 0.2")
    if not 0.0 <= spec.nudge_effect <= 1.0:
        raise ValueError("nudge_effect must be between 0 and 1")


# ----------------------------------------------------------------- calendar


def _month_bounds(end: dt.date, months: int) -> np.ndarray:
    """Day numbers (since 1970) of month starts; the last bound is `end` + 1 day.

    Calendar months when `end` is a month end; otherwise months that end on the
    same day of month as `end`.
    """
    stop = end + dt.timedelta(days=1)
    out = []
    for k in range(months, -1, -1):
        total = stop.year * 12 + stop.month - 1 - k
        year, month = divmod(total, 12)
        month += 1
        day = min(stop.day, _days_in_month(year, month))
        out.append(dt.date(year, month, day))
    return np.array([(d - dt.date(1970, 1, 1)).days for d in out], dtype=np.int64)


def _days_in_month(year: int, month: int) -> int:
    """Length of a calendar month (for clamping the 31st to shorter months)."""
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def _review_days(a: int, b: int) -> list[int]:
    """Review-cycle start days (15 January / 15 July) falling in [a, b)."""
    start = dt.date(1970, 1, 1) + dt.timedelta(days=a)
    stop = dt.date(1970, 1, 1) + dt.timedelta(days=b)
    out = []
    for year in range(start.year, stop.year + 1):
        for month in _REVIEW_MONTHS:
            day = (dt.date(year, month, 15) - dt.date(1970, 1, 1)).days
            if a <= day < b:
                out.append(day)
    return out


def _weekday(day: np.ndarray) -> np.ndarray:
    """Move Saturday events to Friday and Sunday events to Monday."""
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return day + np.where(dow == 5, -1, np.where(dow == 6, 1, 0))


# -------------------------------------------------------------- organisation


@dataclass(frozen=True)
class _Tree:
    """Fixed positions; people come and go, positions stay (backfills)."""

    parent: np.ndarray  # position -> parent position (-1 for the CEO)
    level: np.ndarray  # 0 for the CEO
    dept: np.ndarray  # department index (-1 for the CEO)
    n_children: np.ndarray  # direct reports per position
    role: np.ndarray  # individual-contributor role within the department
    reorg_month: np.ndarray  # month a manager position's team is reorganised (-1: never)


def _build_tree(n: int, rng: np.random.Generator) -> _Tree:
    """A hierarchy with spans of 3-12, built level by level.

    The CEO's direct reports head the departments; each deeper level is filled
    from the remaining headcount until none is left.
    """
    n_depts = int(np.clip(round(2 * math.log10(n) + 2), 6, 12))
    parent = np.full(n, -1, dtype=np.int64)
    level = np.zeros(n, dtype=np.int64)
    placed, lev = 1, 0
    cur = np.array([0], dtype=np.int64)
    while placed < n:
        rem = n - placed
        if rem < 3:  # too few for a team: add them to teams with room
            counts = np.bincount(parent[1:placed], minlength=n)
            room = np.flatnonzero((counts >= 3) & (counts < 12) & (level > 0))
            mgrs = rng.choice(room, size=rem, replace=False)
            new = np.arange(placed, n)
            parent[new], level[new] = mgrs, level[mgrs] + 1
            break
        if lev == 0:
            managers, spans = cur, np.array([n_depts])
        elif rem <= 12 * cur.size:  # last level: spread the rest over some managers
            k = int(np.clip(round(rem / 7.5), math.ceil(rem / 12), min(cur.size, rem // 3)))
            managers = np.sort(rng.choice(cur, size=k, replace=False))
            spans = _spans(rem, k, rng)
        elif lev == 1:  # department heads: big departments get big first levels
            weight = np.asarray(_DEPARTMENT_WEIGHT[: cur.size]) * rng.lognormal(0.0, 0.15, cur.size)
            managers = cur
            spans = np.clip(np.rint(7.0 * weight / weight.mean()), 3, 12).astype(np.int64)
        else:  # intermediate level: most people manage (some senior ICs)
            k = max(1, round(0.9 * cur.size))
            managers = np.sort(rng.choice(cur, size=k, replace=False))
            spans = np.clip(np.rint(rng.normal(7.0, 2.0, k)), 3, 12).astype(np.int64)
        new = np.arange(placed, placed + spans.sum())
        parent[new], level[new] = np.repeat(managers, spans), lev + 1
        placed, cur, lev = placed + new.size, new, lev + 1
    dept = np.full(n, -1, dtype=np.int64)
    dept[level == 1] = np.arange(n_depts)
    for lv in range(2, int(level.max()) + 1):
        sel = np.flatnonzero(level == lv)
        dept[sel] = dept[parent[sel]]
    n_children = np.bincount(parent[1:], minlength=n)
    managers = np.flatnonzero((n_children > 0) & (level > 0))
    reorg = np.full(n, -1, dtype=np.int64)
    chosen = managers[rng.random(managers.size) < 0.2]
    reorg[chosen] = -2  # placeholder; the month is drawn once the window is known
    return _Tree(parent, level, dept, n_children, rng.integers(0, 3, n), reorg)


def _spans(total: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k team sizes in [3, 12] that add up to `total` (3k <= total <= 12k)."""
    spans = np.clip(np.rint(rng.normal(total / k, 2.0, k)), 3, 12).astype(np.int64)
    diff = total - int(spans.sum())
    while diff:
        room = np.flatnonzero(spans < 12) if diff > 0 else np.flatnonzero(spans > 3)
        pick = rng.choice(room, size=min(abs(diff), room.size), replace=False)
        spans[pick] += 1 if diff > 0 else -1
        diff = total - int(spans.sum())
    return spans


# ------------------------------------------------------------------- people


class _People:
    """Growable column store for everyone ever employed (rows only appended)."""

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.cap = capacity
        self.cols: dict[str, np.ndarray] = {}

    def add(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Append people; returns their indices."""
        k = len(next(iter(values.values())))
        if not self.cols:
            self.cols = {
                name: np.zeros((self.cap, *v.shape[1:]), dtype=v.dtype) for name, v in values.items()
            }
        if self.n + k > self.cap:
            self.cap = max(2 * self.cap, self.n + k)
            for name, col in self.cols.items():
                grown = np.zeros((self.cap, *col.shape[1:]), dtype=col.dtype)
                grown[: self.n] = col[: self.n]
                self.cols[name] = grown
        for name, v in values.items():
            self.cols[name][self.n : self.n + k] = v
        self.n += k
        return np.arange(self.n - k, self.n)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name][: self.n]


def _lognormal(rng: np.random.Generator, mean: float, sigma: float, k: int) -> np.ndarray:
    """Positive person-level rates with a given mean and spread."""
    return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, k)


def _traits(rng: np.random.Generator, pos: np.ndarray, hire: np.ndarray) -> dict[str, np.ndarray]:
    """Latent traits and fresh state for new people (state as of their hire day)."""
    k = pos.size
    career_never = rng.random(k) < 0.3
    cancel_heavy = rng.random(k) < 0.15
    return {
        "pos": pos.astype(np.int64),
        "hire": hire.astype(np.int64),
        "exit": np.full(k, _NEVER, dtype=np.int64),
        "exit_type": np.zeros(k, dtype=np.int8),
        "first": rng.integers(0, len(_FIRST), k).astype(np.int16),
        "last": rng.integers(0, len(_LAST), k).astype(np.int16),
        "loc": rng.choice(len(_LOCATIONS), size=k, p=_LOCATION_P).astype(np.int8),
        "seniority": (rng.random(k) < 0.35).astype(np.int8),
        "perf": rng.normal(0.0, 1.0, k),
        "recog_rate": _lognormal(rng, 1.0, 0.7, k),
        "drought": rng.random(k) < 0.19,
        "career_p": np.where(career_never, rng.uniform(0.0, 0.03, k), rng.beta(2.5, 4.0, k)),
        "auto_base": rng.normal(3.7, 0.5, k),
        "item_off": rng.normal(0.0, 0.3, (k, 3)),
        "growth_base": rng.normal(3.5, 0.5, k),
        "frailty": rng.normal(0.0, _HAZ.frailty_sd, k),
        "resp": rng.beta(3.0, 2.0, k),
        "learn_rate": _lognormal(rng, 0.3, 0.8, k),
        "cancel": np.where(cancel_heavy, rng.beta(5.0, 6.0, k), rng.beta(1.5, 12.0, k)),
        "cadence": rng.choice(np.array([1, 2, 4]), size=k, p=[0.2, 0.65, 0.15]).astype(np.int64),
        "culture": _lognormal(rng, 1.0, 0.4, k),
        "style": rng.normal(0.0, 0.35, k),
        "busy": rng.random(k) < 0.1,
        "auto_ar": rng.normal(0.0, 0.2, k),
        "growth_ar": rng.normal(0.0, 0.17, k),
        "last_recog": hire.astype(np.int64),
        "last_career": hire.astype(np.int64),
        "last_learn": hire.astype(np.int64),
        "held": np.zeros((k, 3), dtype=np.int16),
        "auto_hist": np.full((k, 4), np.nan),
        "msp": np.zeros(k),
        "promotions": np.zeros(k, dtype=np.int16),
        "leave_start": np.full(k, -1, dtype=np.int64),
        "leave_end": np.full(k, -1, dtype=np.int64),
        "stale_mgr": np.full(k, -1, dtype=np.int64),
        "cum_h": np.zeros(k),
        "at_risk": np.zeros(k, dtype=np.int16),
    }


class _Occupancy:
    """Who holds a position on a given day (positions are refilled, never shared)."""

    def __init__(self, people: _People, base_day: int) -> None:
        self.people = people
        self.base = base_day
        key = people["pos"] * _SPAN + (people["hire"] - base_day)
        self.order = np.argsort(key, kind="stable")
        self.keys = key[self.order]

    def last(self, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The latest person hired into `pos` on or before `day` (may have left)."""
        j = np.searchsorted(self.keys, pos * _SPAN + (day - self.base), side="right") - 1
        cand = self.order[np.maximum(j, 0)]
        ok = (j >= 0) & (self.people["pos"][cand] == pos)
        return np.where(ok, cand, -1)

    def current(self, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The person employed in `pos` on `day`, or -1 while it is vacant."""
        cand = self.last(pos, day)
        ok = (cand >= 0) & (self.people["exit"][np.maximum(cand, 0)] > day)
        return np.where(ok, cand, -1)


# --------------------------------------------------------------- simulation


def _rank_in_groups(counts: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each consecutive group of the given sizes."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


class _Simulation:
    """Month-by-month simulation: hazards, exits, backfills, then the month's events."""

    def __init__(self, spec: SynthSpec, tree: _Tree, bounds: np.ndarray, rng: np.random.Generator) -> None:
        self.spec, self.tree, self.bounds, self.rng = spec, tree, bounds, rng
        self.months = bounds.size - 1
        self.end_day = int(bounds[-1]) - 1
        self.base_day = int(bounds[0]) - 13 * 366
        n = tree.parent.size
        reorg = tree.reorg_month.copy()
        picked = reorg == -2
        reorg[picked] = rng.integers(0, self.months, int(picked.sum()))
        self.reorg = reorg
        self.P = _People(capacity=n + int(n * 0.3 * self.months / 12) + 64)
        self.events: dict[str, list[dict[str, np.ndarray]]] = {
            k: [] for k in ("recognition", "one_on_ones", "autonomy_survey", "learning", "performance")
        }
        self.person_months: list[dict[str, np.ndarray]] = []
        self.baselines: list[dict[str, float]] = []
        self._hire_initial(n)
        self.occ = _Occupancy(self.P, self.base_day)

    # ---- initial population

    def _hire_initial(self, n: int) -> None:
        """Fill every position at the window start with plausible prior history."""
        rng, tree, d0 = self.rng, self.tree, int(self.bounds[0])
        tenure = -3.0 * np.log1p(-rng.random(n) * (1 - math.exp(-12 / 3.0)))  # exp(mean 3y) cut at 12y
        is_mgr = tree.n_children > 0
        tenure = np.where(is_mgr, np.minimum(tenure + rng.uniform(0.5, 4.0, n), 12.0), tenure)
        tenure[0] = rng.uniform(6.0, 12.0)
        hire = d0 - 1 - np.floor(tenure * 365.25).astype(np.int64)
        pos = np.arange(n, dtype=np.int64)
        t = _traits(rng, pos, hire)
        tdays = (d0 - hire).astype(float)
        t["seniority"] = np.clip(np.floor(tenure / 3) + (rng.random(n) < 0.3), 0, 2).astype(np.int8)
        eff = t["recog_rate"] * np.where(t["drought"], 0.08, 1.0)
        t["last_recog"] = d0 - np.minimum(rng.exponential(30.0 / eff), tdays).astype(np.int64)
        mgr = np.maximum(tree.parent, 0)  # initial people sit at index == position
        p_held = np.clip(1 - t["cancel"][mgr] - _NO_SHOW_P, 0.05, 1.0)
        t["held"] = rng.binomial(np.repeat(t["cadence"][mgr][:, None], 3, 1), p_held[:, None]).astype(np.int16)
        career_rate = t["cadence"][mgr] * p_held * t["career_p"]
        career_gap = rng.exponential(30.0 / np.maximum(career_rate, 1e-3))
        t["last_career"] = d0 - np.minimum(career_gap, tdays).astype(np.int64)
        t["last_learn"] = d0 - np.minimum(rng.exponential(30.0 / t["learn_rate"]), tdays).astype(np.int64)
        t["msp"] = rng.random(n) * np.minimum(tdays / 30.44, 60.0)
        on_leave = (tree.n_children == 0) & (rng.random(n) < 0.02)
        t["leave_start"] = np.where(on_leave, d0 - rng.integers(1, 90, n), -1)
        t["leave_end"] = np.where(on_leave, d0 + rng.integers(1, 120, n), -1)
        self.P.add(t)

    # ---- latent signals

    def _manager(self, idx: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Current occupant of each person's parent position (-1: CEO or vacancy)."""
        pp = self.tree.parent[self.P["pos"][idx]]
        return np.where(pp >= 0, self.occ.current(np.maximum(pp, 0), day), -1)

    def _autonomy(self, idx: np.ndarray, mgr: np.ndarray, m: int) -> np.ndarray:
        """Latent autonomy: person + manager style + re-org slide + monthly noise."""
        P = self.P
        pp = self.tree.parent[P["pos"][idx]]
        rm = np.where(pp >= 0, self.reorg[np.maximum(pp, 0)], -1)
        slide = np.where(rm >= 0, np.clip(m - rm + 1, 0, 4), 0) * -0.25
        style = np.where(mgr >= 0, P["style"][np.maximum(mgr, 0)], 0.0)
        return P["auto_base"][idx] + style + slide + P["auto_ar"][idx]

    def _growth(self, idx: np.ndarray, day: int) -> np.ndarray:
        """Latent growth: recent learning helps, a long wait for promotion hurts."""
        P = self.P
        learned = (day - P["last_learn"][idx]) < 183
        stuck = np.clip((P["msp"][idx] - 24) / 12, 0, 3)
        return P["growth_base"][idx] + 0.35 * learned - 0.2 * stuck + P["growth_ar"][idx]

    # ---- the loop

    def run(self, report: Progress) -> None:
        """Simulate every month of the window in order."""
        for m in range(self.months):
            a, b = int(self.bounds[m]), int(self.bounds[m + 1])
            self._drift()
            leavers = self._exits(m, a, b)
            self._stale_pointers(leavers, a)
            self._backfill(leavers)
            self._leaves(a, b)
            self._promotions(a)
            self._month_events(m, a, b)
            report("simulate", 0.02 + 0.68 * (m + 1) / self.months)

    def _drift(self) -> None:
        """Markov states and noise that make signals move month to month."""
        P, rng, n = self.P, self.rng, self.P.n
        d = P["drought"]
        d[:] = np.where(d, rng.random(n) < 0.7, rng.random(n) < 0.07)
        busy = P["busy"]
        busy[:] = np.where(busy, rng.random(n) < 0.6, rng.random(n) < 0.06)
        P["auto_ar"][:] = 0.7 * P["auto_ar"] + rng.normal(0.0, 0.14, n)
        P["growth_ar"][:] = 0.7 * P["growth_ar"] + rng.normal(0.0, 0.12, n)

    def _exits(self, m: int, a: int, b: int) -> np.ndarray:
        """Draw voluntary and involuntary exits for everyone employed at the month start."""
        P, rng, haz = self.P, self.rng, _HAZ
        R = np.flatnonzero((P["hire"] <= a) & (P["exit"] > a) & (P["pos"] != 0))
        day = np.full(R.size, a, dtype=np.int64)
        aut = self._autonomy(R, self._manager(R, day), m)
        prev = P["auto_hist"][R, (m + 1) % 4]  # latent autonomy three months ago
        drop = np.where(np.isnan(prev), 0.0, prev - aut)
        growth = self._growth(R, a)
        tdays = (a - P["hire"][R]).astype(float)
        days_recog = np.clip(a - P["last_recog"][R], 0, 365)
        held3 = P["held"][R].sum(axis=1).astype(float)
        expected = 6.0 * np.clip(tdays / 91.0, 0.0, 1.0)
        lapse = np.where(tdays < 30, 0.0, np.clip(1.0 - held3 / np.maximum(expected, 1.0), 0.0, 1.0))
        days_career = np.clip(a - P["last_career"][R], 0, 365)
        msp = P["msp"][R]
        star = P["perf"][R] > haz.star_threshold
        x_recog = np.log1p(days_recog / 30.0)
        tenure_y = tdays / 365.25
        band = np.searchsorted(np.asarray(haz.tenure_bounds), tenure_y, side="right")
        tmult = np.asarray(haz.tenure_multipliers)[band]
        eta = (
            haz.beta_recognition_drought * x_recog
            + haz.beta_star_drought * x_recog * star
            + haz.beta_one_on_one_lapse * lapse
            + haz.beta_no_career_talk * days_career / 365.0
            + haz.beta_autonomy_low * np.clip(3.5 - aut, 0.0, 2.5)
            + haz.beta_autonomy_drop * np.clip(drop, 0.0, 2.0)
            + haz.beta_growth_low * np.clip(3.5 - growth, 0.0, 2.5)
            + haz.beta_since_promotion * np.minimum(msp, 72.0) / 36.0
            + P["frailty"][R]
        )
        w = tmult * np.exp(eta)
        monthly = 1.0 - (1.0 - haz.voluntary_per_year) ** (1 / 12)
        b_vol = monthly * R.size / max(w.sum(), 1e-12)
        h = np.minimum(b_vol * w, haz.voluntary_cap)
        wi = np.exp(haz.beta_involuntary_performance * P["perf"][R])
        monthly_inv = 1.0 - (1.0 - haz.involuntary_per_year) ** (1 / 12)
        b_inv = monthly_inv * R.size / max(wi.sum(), 1e-12)
        hi = np.minimum(b_inv * wi, haz.involuntary_cap)
        u = rng.random(R.size)
        vol = u < h
        inv = ~vol & (u < h + hi)
        out = vol | inv
        leavers = R[out]
        P["exit"][leavers] = a + 1 + np.floor(rng.random(leavers.size) * (b - a - 1)).astype(np.int64)
        P["exit_type"][leavers] = np.where(vol[out], 1, 2)
        P["cum_h"][R] += h
        P["at_risk"][R] += 1
        self.baselines.append({"month_start": a, "voluntary": b_vol, "involuntary": b_inv})
        self.person_months.append(
            {
                "person": R,
                "month": np.full(R.size, m, dtype=np.int16),
                "hazard_voluntary": h,
                "hazard_involuntary": hi,
                "exit_type": np.where(vol, 1, np.where(inv, 2, 0)).astype(np.int8),
                "days_since_recognition": days_recog,
                "held_one_on_ones_3m": held3,
                "one_on_one_lapse": lapse,
                "days_since_career_talk": days_career,
                "autonomy": aut,
                "autonomy_drop_3m": drop,
                "growth": growth,
                "months_since_promotion": msp.copy(),
                "tenure_years": tenure_y,
                "star": star,
            }
        )
        return leavers

    def _stale_pointers(self, leavers: np.ndarray, a: int) -> None:
        """When a manager leaves, a few reports keep pointing at them in the HRIS.

        At most `n_children - 4` of a team are ever stale, so an active manager
        keeps at least 4 correctly pointing reports (3 after one bad row).
        """
        P, tree, rng = self.P, self.tree, self.rng
        pos = P["pos"]
        mgrs = leavers[tree.n_children[pos[leavers]] > 0]
        if mgrs.size == 0:
            return
        n_pos = tree.parent.size
        lpos = pos[mgrs]
        parent = tree.parent[pos]
        employed = (P["hire"] <= a) & (P["exit"] == _NEVER)
        stale = P["stale_mgr"]
        stale_now = np.bincount(np.maximum(parent[employed & (stale >= 0)], 0), minlength=n_pos)
        allow = np.clip(tree.n_children[lpos] - stale_now[lpos] - 4, 0, None)
        want = np.minimum(allow, rng.binomial(tree.n_children[lpos], 0.12))
        k_by_pos = np.zeros(n_pos, dtype=np.int64)
        k_by_pos[lpos] = want
        departing = np.full(n_pos, -1, dtype=np.int64)
        departing[lpos] = mgrs
        cand = np.flatnonzero(employed & (stale < 0) & np.isin(parent, lpos))
        order = np.lexsort((rng.random(cand.size), parent[cand]))
        cand = cand[order]
        grp = parent[cand]
        _, counts = np.unique(grp, return_counts=True)
        pick = _rank_in_groups(counts) < k_by_pos[grp]
        stale[cand[pick]] = departing[grp[pick]]

    def _backfill(self, leavers: np.ndarray) -> None:
        """Replace every leaver in the same position, hired no later than `end`."""
        if leavers.size == 0:
            return
        P, rng = self.P, self.rng
        ex = P["exit"][leavers]
        hire = ex + rng.integers(0, 61, leavers.size)
        late = hire > self.end_day
        room = self.end_day - ex[late] + 1
        hire[late] = ex[late] + np.floor(rng.random(int(late.sum())) * room).astype(np.int64)
        self.P.add(_traits(rng, P["pos"][leavers], hire))
        self.occ = _Occupancy(self.P, self.base_day)

    def _leaves(self, a: int, b: int) -> None:
        """Start leave spells (about 2% of individual contributors away at a time)."""
        P, rng, n = self.P, self.rng, self.P.n
        ok = (
            (self.tree.n_children[P["pos"]] == 0)
            & (P["hire"] <= a)
            & (P["exit"] == _NEVER)
            & (P["leave_end"] <= a)
            & (rng.random(n) < 0.006)
        )
        idx = np.flatnonzero(ok)
        start = a + np.floor(rng.random(idx.size) * (b - a)).astype(np.int64)
        P["leave_start"][idx] = start
        P["leave_end"][idx] = start + rng.integers(30, 181, idx.size)

    def _promotions(self, a: int) -> None:
        """Promotions (a latent: only the job title shows it); better performers go first."""
        P, rng, n = self.P, self.rng, self.P.n
        employed = (P["hire"] <= a) & (P["exit"] > a)
        promo = employed & (P["msp"] >= 12) & (rng.random(n) < 0.02 * np.exp(0.5 * P["perf"]))
        P["msp"][promo] = 0.0
        P["promotions"][promo] += 1
        P["msp"][employed] += 1.0

    # ---- events

    def _month_events(self, m: int, a: int, b: int) -> None:
        """Every event of month m for everyone employed at some point in it."""
        P = self.P
        A = np.flatnonzero((P["hire"] < b) & (P["exit"] > a))
        lo = np.maximum(P["hire"][A], a)
        hi = np.minimum(P["exit"][A], b)
        mgr = self._manager(A, lo)
        aut = self._autonomy(A, mgr, m)
        P["auto_hist"][A, m % 4] = aut
        self._recognition(A, lo, hi, mgr, a, b)
        self._one_on_ones(m, A, lo, hi, a, b)
        self._survey(A, lo, hi, aut, a, b)
        self._learning(A, lo, hi, a, b)
        for day in _review_days(a, b):
            self._reviews(A, day, b)
        if m == 0:  # an empty chunk so a window without review cycles still has a schema
            empty = np.zeros(0, dtype=np.int64)
            self.events["performance"].append({"employee": empty, "day": empty, "rating": np.zeros(0)})

    def _keep(self, who: np.ndarray, day: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Events inside the employment interval and outside any leave spell."""
        P = self.P
        on_leave = (P["leave_start"][who] <= day) & (day < P["leave_end"][who])
        return (day >= lo) & (day < hi) & ~on_leave

    def _recognition(
        self, A: np.ndarray, lo: np.ndarray, hi: np.ndarray, mgr: np.ndarray, a: int, b: int
    ) -> None:
        """Peer and manager recognition: person rate x team culture, with droughts."""
        P, rng = self.P, self.rng
        frac = (hi - lo) / (b - a)
        culture = np.where(mgr >= 0, P["culture"][np.maximum(mgr, 0)], 1.0)
        rate = P["recog_rate"][A] * culture * np.where(P["drought"][A], 0.08, 1.0) * frac
        cnt = rng.poisson(rate)
        who = np.repeat(A, cnt)
        rlo, rhi = np.repeat(lo, cnt), np.repeat(hi, cnt)
        day = _weekday(rlo + np.floor(rng.random(who.size) * (rhi - rlo)).astype(np.int64))
        keep = self._keep(who, day, rlo, rhi)
        who, day = who[keep], day[keep]
        sec = day * 86400 + 8 * 3600 + rng.integers(0, 10 * 3600, who.size)
        # giver: the manager (35%) or a peer from the same department employed that day
        dept = self.tree.dept[P["pos"]]
        order = np.argsort(dept[A], kind="stable")
        sorted_a, sorted_dept = A[order], dept[A][order]
        d = dept[who]
        start = np.searchsorted(sorted_dept, d, side="left")
        size = np.searchsorted(sorted_dept, d, side="right") - start
        pick = start + np.floor(rng.random(who.size) * size).astype(np.int64)
        peer = sorted_a[pick]
        peer = np.where(peer == who, sorted_a[start + (pick - start + 1) % np.maximum(size, 1)], peer)
        peer_ok = (peer != who) & (P["hire"][peer] <= day) & (P["exit"][peer] > day)
        boss = self._manager(who, day)
        by_boss = (rng.random(who.size) < 0.35) & (boss >= 0)
        giver = np.where(by_boss, boss, np.where(peer_ok, peer, np.where(boss >= 0, boss, -1)))
        np.maximum.at(P["last_recog"], who, day)
        self.events["recognition"].append(
            {
                "recipient": who,
                "sec": sec,
                "giver": giver,
                "points": rng.choice(np.array(_POINTS), size=who.size, p=_POINTS_P),
                "channel": rng.choice(len(_CHANNELS), size=who.size, p=_CHANNEL_P),
                "message": rng.integers(0, len(_MESSAGES), who.size),
            }
        )

    def _one_on_ones(self, m: int, A: np.ndarray, lo: np.ndarray, hi: np.ndarray, a: int, b: int) -> None:
        """Scheduled 1:1s at the manager's cadence; the manager's habits decide cancellations."""
        P, rng, tree = self.P, self.rng, self.tree
        sel = P["pos"][A] != 0
        rep, rlo, rhi = A[sel], lo[sel], hi[sel]
        pp = tree.parent[P["pos"][rep]]
        m0 = self.occ.current(pp, rlo)
        m1 = self.occ.current(pp, rhi - 1)
        ref = np.where(m0 >= 0, m0, m1)
        cad = np.where(ref >= 0, P["cadence"][np.maximum(ref, 0)], 0)
        who, pp, slo, shi = (np.repeat(x, cad) for x in (rep, pp, rlo, rhi))
        c = np.repeat(cad, cad)
        k = _rank_in_groups(cad)
        day = a + np.floor((k + 0.1 + 0.8 * rng.random(who.size)) * (b - a) / np.maximum(c, 1)).astype(np.int64)
        day = _weekday(day)
        keep = self._keep(who, day, slo, shi)
        who, pp, day = who[keep], pp[keep], day[keep]
        boss = self.occ.current(pp, day)
        keep = boss >= 0
        who, day, boss = who[keep], day[keep], boss[keep]
        p_cancel = np.clip(P["cancel"][boss] * np.where(P["busy"][boss], 2.5, 1.0), 0.0, 0.85)
        u = rng.random(who.size)
        status = np.where(u < p_cancel, 1, np.where(u < p_cancel + _NO_SHOW_P, 2, 0)).astype(np.int8)
        held = status == 0
        sec = day * 86400 + 9 * 3600 + 1800 * rng.integers(0, 16, who.size)
        duration = np.where(held, rng.choice(np.array(_DURATIONS), size=who.size, p=_DURATION_P), -1)
        career = held & (rng.random(who.size) < P["career_p"][who])
        bits = career.astype(np.int64)
        for i, p in enumerate(_TOPIC_P, start=1):
            bits |= (held & (rng.random(who.size) < p)).astype(np.int64) << i
        counts = np.bincount(who[held], minlength=P.n)
        P["held"][:, m % 3] = np.minimum(counts, 32000)
        np.maximum.at(P["last_career"], who[career], day[career])
        self.events["one_on_ones"].append(
            {
                "manager": boss,
                "employee": who,
                "sec": sec,
                "status": status,
                "duration": duration,
                "topics": bits,
            }
        )

    def _survey(self, A: np.ndarray, lo: np.ndarray, hi: np.ndarray, aut: np.ndarray, a: int, b: int) -> None:
        """Monthly autonomy pulse (four items) in the first days of the month."""
        P, rng = self.P, self.rng
        day = a + rng.integers(0, min(10, b - a), A.size)
        answer = self._keep(A, day, lo, hi) & (rng.random(A.size) < P["resp"][A])
        who, day, aut = A[answer], day[answer], aut[answer]
        latent = np.column_stack([aut[:, None] + P["item_off"][who], self._growth(who, a)])
        score = np.clip(np.rint(latent + rng.normal(0.0, 0.65, latent.shape)), 1, 5).astype(np.int64)
        sec = day * 86400 + 9 * 3600 + rng.integers(0, 11 * 3600, who.size)
        self.events["autonomy_survey"].append(
            {
                "employee": np.repeat(who, 4),
                "sec": np.repeat(sec, 4),
                "item": np.tile(np.arange(4), who.size),
                "score": score.ravel(),
            }
        )

    def _learning(self, A: np.ndarray, lo: np.ndarray, hi: np.ndarray, a: int, b: int) -> None:
        """Completed courses, books, workshops: a person-level Poisson rate."""
        P, rng = self.P, self.rng
        cnt = rng.poisson(P["learn_rate"][A] * (hi - lo) / (b - a))
        who, rlo, rhi = np.repeat(A, cnt), np.repeat(lo, cnt), np.repeat(hi, cnt)
        day = rlo + np.floor(rng.random(who.size) * (rhi - rlo)).astype(np.int64)
        keep = self._keep(who, day, rlo, rhi)
        who, day = who[keep], day[keep]
        np.maximum.at(P["last_learn"], who, day)
        self.events["learning"].append(
            {
                "employee": who,
                "sec": day * 86400 + rng.integers(7 * 3600, 22 * 3600, who.size),
                "kind": rng.choice(len(_LEARNING_KINDS), size=who.size, p=_LEARNING_P),
            }
        )

    def _reviews(self, A: np.ndarray, cycle: int, b: int) -> None:
        """Semi-annual reviews for people with 90+ days of tenure; stars stay stars."""
        P, rng = self.P, self.rng
        day = cycle + rng.integers(0, max(1, min(21, b - cycle)), A.size)
        ok = (P["hire"][A] <= cycle - 90) & (P["exit"][A] > day)
        who, day = A[ok], day[ok]
        raw = 3.25 + 0.75 * P["perf"][who] + rng.normal(0.0, 0.35, who.size)
        self.events["performance"].append(
            {"employee": who, "day": day, "rating": np.clip(np.rint(raw * 2) / 2, 1.0, 5.0)}
        )


# ------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Ids:
    """Employee id strings (`E000001`) for every simulated person."""

    strings: pa.Array
    width: int

    def take(self, idx: np.ndarray) -> pa.Array:
        """Id strings for person indices; -1 becomes null."""
        return self.strings.take(pa.array(np.maximum(idx, 0), mask=idx < 0))


def _id_width(n: int) -> int:
    """Digits so that unknown ids (the top of the range) never collide with real ones."""
    width = 6
    while 10**width - 10 ** (width - 2) <= n + 1:
        width += 1
    return width


def _id_strings(n: int) -> _Ids:
    """`E` + zero-padded 1-based number, vectorised."""
    width = _id_width(n)
    nums = pa.array(np.arange(1, n + 1)).cast(pa.string())
    return _Ids(pc.utf8_replace_slice(pc.utf8_lpad(nums, width, "0"), 0, 0, "E"), width)


def _unknown_ids(rng: np.random.Generator, k: int, width: int) -> pa.Array:
    """Ids from the top of the range (e.g. `E999999`) that name nobody."""
    nums = 10**width - 1 - rng.integers(0, 10 ** (width - 2), k)
    return pc.utf8_replace_slice(pc.utf8_lpad(pa.array(nums).cast(pa.string()), width, "0"), 0, 0, "E")


def _dates(day: np.ndarray) -> pa.Array:
    """ISO dates from day numbers."""
    return pa.array(day.astype(np.int32), type=pa.date32()).cast(pa.string())


def _timestamps(sec: np.ndarray) -> pa.Array:
    """ISO `YYYY-MM-DD HH:MM:SS` from seconds since 1970."""
    return pa.array(sec, type=pa.timestamp("s")).cast(pa.string())


def _choices(values: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    """Strings from a small vocabulary by code; negative codes become null."""
    return pa.array(list(values), type=pa.string()).take(pa.array(np.maximum(codes, 0), mask=codes < 0))


def _department_names(dept: np.ndarray) -> pa.Array:
    """Department names; the CEO (no department) sits in "Executive"."""
    return _choices((*_DEPARTMENTS, "Executive"), np.where(dept < 0, len(_DEPARTMENTS), dept))


def _ascii(text: str) -> str:
    """Lower-case ASCII slug of a name for email addresses (José -> jose)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("ø", "o")


class _EmployeeBadRows:
    """Which employee rows may be corrupted, and what each corrupted person got."""

    def __init__(self, pool: np.ndarray, n: int) -> None:
        self.pool = pool
        self.kind = np.full(n, "", dtype=object)

    def flag(self, rows_by_kind: dict[str, np.ndarray]) -> None:
        """Remember the kind per person (employee rows are in person order)."""
        for kind, rows in rows_by_kind.items():
            self.kind[rows] = kind


def _file_manager(sim: _Simulation) -> np.ndarray:
    """Manager index as the HRIS shows it (self for the CEO, stale pointers kept)."""
    P = sim.P
    left = P["exit"] <= sim.end_day
    at = np.where(left, P["exit"] - 1, sim.end_day)
    pp = sim.tree.parent[P["pos"]]
    mgr = np.where(pp >= 0, sim.occ.last(np.maximum(pp, 0), at), np.arange(P.n))
    return np.where(P["stale_mgr"] >= 0, P["stale_mgr"], mgr)


def _statuses(sim: _Simulation) -> np.ndarray:
    """0 active, 1 on leave, 2 left, as of the end of the window."""
    P, end = sim.P, sim.end_day
    left = P["exit"] <= end
    leave = ~left & (P["leave_start"] <= end) & (end < P["leave_end"])
    return np.where(left, 2, np.where(leave, 1, 0))


def _employees_table(
    sim: _Simulation, ids: _Ids, rng: np.random.Generator
) -> tuple[pa.Table, _EmployeeBadRows]:
    """employees.csv rows, one per person, plus which rows may be made bad."""
    P, tree = sim.P, sim.tree
    n = P.n
    pos = P["pos"]
    status = _statuses(sim)
    mgr = _file_manager(sim)
    first, last = list(_FIRST), list(_LAST)
    f_codes, l_codes = P["first"].astype(np.int64), P["last"].astype(np.int64)
    name = pc.binary_join_element_wise(_choices(first, f_codes), _choices(last, l_codes), " ")
    slug = pc.binary_join_element_wise(
        _choices([_ascii(f) for f in first], f_codes),
        _choices([_ascii(s) for s in last], l_codes),
        pa.array(np.arange(1, n + 1)).cast(pa.string()),
        ".",
    )
    email = pc.binary_join_element_wise(slug, "example.com", "@")
    dept = tree.dept[pos]
    level = tree.level[pos]
    is_mgr = tree.n_children[pos] > 0
    seniority = np.clip(P["seniority"] + P["promotions"], 0, len(_SENIORITY) - 1)
    titles = ["Chief Executive Officer"]
    titles += [f"VP, {d}" for d in _DEPARTMENTS]
    titles += [f"Director, {d}" for d in _DEPARTMENTS]
    titles += [f"{d} Manager" for d in _DEPARTMENTS]
    ic_base = len(titles)
    titles += [f"{s}{r}" for roles in _ROLES for r in roles for s in _SENIORITY]
    nd = len(_DEPARTMENTS)
    ic_code = ic_base + (np.maximum(dept, 0) * 3 + tree.role[pos]) * len(_SENIORITY) + seniority
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
            "hire_date": _dates(P["hire"]),
            "status": _choices(("active", "leave", "left"), status),
            "name": name,
            "department": _department_names(dept),
            "job_title": _choices(titles, title_code),
            "location": _choices(_LOCATIONS, P["loc"].astype(np.int64)),
            "exit_date": _exit_dates(left, P["exit"]),
            "exit_reason": _exit_reasons(left, P["exit_type"]),
        }
    )
    return table, _EmployeeBadRows(_employee_bad_pool(sim, status, mgr, rng), n)


def _exit_dates(left: np.ndarray, exit_day: np.ndarray) -> pa.Array:
    """ISO exit dates for leavers, null for everyone else."""
    return pc.if_else(pa.array(left), _dates(np.where(left, exit_day, 0)), pa.scalar(None, pa.string()))


def _exit_reasons(left: np.ndarray, exit_type: np.ndarray) -> pa.Array:
    """voluntary/involuntary for leavers, null for everyone else."""
    return _choices(("voluntary", "involuntary"), np.where(left, exit_type.astype(np.int64) - 1, -1))


def _employee_bad_pool(
    sim: _Simulation, status: np.ndarray, mgr: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Leaf employees that may be corrupted without breaking the tree.

    Leavers are free; of the people still here at most one per team, and only in
    teams with 4+ people, so every active manager keeps 3+ clean reports.
    """
    leaf = sim.tree.n_children[sim.P["pos"]] == 0
    leavers = np.flatnonzero(leaf & (status == 2))
    here = status != 2
    team = np.bincount(mgr[here], minlength=sim.P.n)
    cand = np.flatnonzero(leaf & here & (team[mgr] >= 4))
    cand = cand[rng.permutation(cand.size)]
    _, first = np.unique(mgr[cand], return_index=True)
    return np.sort(np.concatenate([leavers, cand[first]]))


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join the monthly event chunks column by column."""
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _sort_dedupe(cols: dict[str, np.ndarray], key: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Order events by the contract key (time first) and drop accidental repeats.

    Only injected duplicates should reach the files, so their count is exact.
    """
    order = np.lexsort(tuple(cols[k] for k in reversed(key)))
    keys = [cols[k][order] for k in key]
    repeat = np.zeros(order.size, dtype=bool)
    if order.size:
        repeat[1:] = np.logical_and.reduce([k[1:] == k[:-1] for k in keys])
    keep = order[~repeat]
    return {k: v[keep] for k, v in cols.items()}


_TOPIC_STRINGS = tuple(";".join(t for i, t in enumerate(_TOPICS) if code >> i & 1) for code in range(32))


def _event_table(sim: _Simulation, ids: _Ids, name: str) -> pa.Table:
    """One event file as a string table in contract column order (built on demand to save memory)."""
    chunks = sim.events.pop(name)
    ev = _concat(chunks)
    del chunks
    if name == PERFORMANCE.name:
        ev = _sort_dedupe(ev, ("day", "employee"))
        return pa.table(
            {
                "employee_id": ids.take(ev["employee"]),
                "review_date": _dates(ev["day"]),
                "rating": pa.array(ev["rating"]).cast(pa.string()),
            }
        )
    if name == RECOGNITION.name:
        ev = _sort_dedupe(ev, ("sec", "recipient", "giver"))
        return pa.table(
            {
                "recipient_id": ids.take(ev["recipient"]),
                "given_at": _timestamps(ev["sec"]),
                "giver_id": ids.take(ev["giver"]),
                "points": pa.array(ev["points"]).cast(pa.string()),
                "channel": _choices(_CHANNELS, ev["channel"]),
                "message": _choices(_MESSAGES, ev["message"]),
            }
        )
    if name == ONE_ON_ONES.name:
        ev = _sort_dedupe(ev, ("sec", "manager", "employee"))
        dur = ev["duration"]
        return pa.table(
            {
                "manager_id": ids.take(ev["manager"]),
                "employee_id": ids.take(ev["employee"]),
                "scheduled_at": _timestamps(ev["sec"]),
                "status": _choices(_STATUS_1ON1, ev["status"].astype(np.int64)),
                "duration_min": pa.array(np.maximum(dur, 0), mask=dur < 0).cast(pa.string()),
                "topics": _choices(_TOPIC_STRINGS, np.where(ev["topics"] > 0, ev["topics"], -1)),
            }
        )
    if name == AUTONOMY_SURVEY.name:
        ev = _sort_dedupe(ev, ("sec", "employee", "item"))
        return pa.table(
            {
                "employee_id": ids.take(ev["employee"]),
                "responded_at": _timestamps(ev["sec"]),
                "item": _choices(_ITEMS, ev["item"]),
                "score": pa.array(ev["score"]).cast(pa.string()),
            }
        )
    ev = _sort_dedupe(ev, ("sec", "employee", "kind"))
    return pa.table(
        {
            "employee_id": ids.take(ev["employee"]),
            "completed_at": _timestamps(ev["sec"]),
            "kind": _choices(_LEARNING_KINDS, ev["kind"]),
        }
    )


# ----------------------------------------------------------------- bad rows

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
}


def _inject_bad_rows(
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
    for kind, rows in zip(kinds, splits):
        rows = np.sort(rows)
        counts[kind] = int(rows.size)
        rows_by_kind[kind] = rows
        if kind == "duplicate" or rows.size == 0:
            continue
        column, values = plan[kind]
        if kind == "missing_id":
            repl = pa.nulls(rows.size, pa.string())
        elif kind.startswith("unknown"):
            repl = _unknown_ids(rng, rows.size, width)
        else:
            repl = _choices(values, np.arange(rows.size) % len(values))
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        cols[column] = pc.replace_with_mask(cols[column], pa.array(mask), repl)
    out = pa.table(cols)
    dup = rows_by_kind["duplicate"]
    if dup.size:
        rows = np.concatenate([np.arange(n), dup])
        out = out.take(pa.array(rows[np.argsort(rows, kind="stable")]))
    return out, counts, rows_by_kind


def _write_csv(con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path) -> None:
    """UTF-8 CSV with a header, quoting only where needed, nulls as empty fields."""
    con.register("_out", table)
    try:
        target = str(path).replace("'", "''")
        con.execute(f"COPY _out TO '{target}' (FORMAT CSV, HEADER, DELIMITER ',')")
    finally:
        con.unregister("_out")


# -------------------------------------------------------------------- truth


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


def _write_truth(
    con: duckdb.DuckDBPyConnection,
    sim: _Simulation,
    ids: _Ids,
    bad_kind: np.ndarray,
    truth_dir: Path,
    spec: SynthSpec,
    end: dt.date,
    bad_counts: dict[str, dict[str, int]],
    rows: dict[str, int],
) -> float:
    """Write ground_truth.csv, person_months.parquet and ground_truth.json; return the oracle AUC."""
    P, tree = sim.P, sim.tree
    pm = _concat(sim.person_months)
    auc_pm = _auc(pm["hazard_voluntary"], pm["exit_type"] == 1)
    at_risk = P["at_risk"].astype(float)
    mean_h = np.where(at_risk > 0, P["cum_h"] / np.maximum(at_risk, 1), np.nan)
    sel = at_risk > 0
    auc_person = _auc(mean_h[sel], (P["exit_type"] == 1)[sel])
    status = _statuses(sim)
    pos = P["pos"]
    pp = tree.parent[pos]
    at = np.where(status == 2, P["exit"] - 1, sim.end_day)
    true_mgr = np.where(pp >= 0, sim.occ.last(np.maximum(pp, 0), at), -1)
    file_mgr = _file_manager(sim)
    ex = P["exit_type"].astype(np.int64)
    left = status == 2
    reorg = np.where(pp >= 0, sim.reorg[np.maximum(pp, 0)], -1)
    truth = pa.table(
        {
            "employee_id": ids.strings,
            "position": pa.array(pos),
            "level": pa.array(tree.level[pos]),
            "department": _department_names(tree.dept[pos]),
            "manager_id_in_file": ids.take(file_mgr),
            "true_manager_id": ids.take(true_mgr),
            "stale_manager_pointer": pa.array(P["stale_mgr"] >= 0),
            "is_manager": pa.array(tree.n_children[pos] > 0),
            "hire_date": _dates(P["hire"]),
            "status": _choices(("active", "leave", "left"), status),
            "exited": pa.array(left),
            "exit_type": _exit_reasons(left, P["exit_type"]),
            "exit_date": _exit_dates(left, P["exit"]),
            "months_at_risk": pa.array(P["at_risk"].astype(np.int64)),
            "cumulative_voluntary_hazard": pa.array(np.round(P["cum_h"], 6)),
            "mean_monthly_voluntary_hazard": pa.array(np.round(mean_h, 6), from_pandas=True),
            "performance_latent": pa.array(np.round(P["perf"], 4)),
            "star": pa.array(P["perf"] > _HAZ.star_threshold),
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
            "bad_row_kind": pa.array(np.where(bad_kind == "", None, bad_kind).tolist(), type=pa.string()),
        }
    )
    _write_csv(con, truth, truth_dir / "ground_truth.csv")
    month_starts = _dates(sim.bounds[:-1])
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
        "spec": {**asdict(spec), "end": end.isoformat()},
        "window": {
            "start": _dates(sim.bounds[:1])[0].as_py(),
            "end": end.isoformat(),
            "month_starts": month_starts.to_pylist(),
        },
        "hazard": {
            **asdict(_HAZ),
            "monthly_baseline": [
                {**b, "month_start": _dates(np.array([b["month_start"]]))[0].as_py()} for b in sim.baselines
            ],
            "nudge_effect": spec.nudge_effect,
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
                "since_promotion": "months since promotion (capped 72) / 36; promotions are latent",
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
            "rows": rows,
        },
        "oracle_auc": _json_number(auc_pm),
        "oracle_auc_basis": "person-months: score = true voluntary hazard of an employee at a month start, "
        "label = voluntary exit within that month (see _truth/person_months.parquet)",
        "oracle_auc_person": _json_number(auc_person),
        "oracle_auc_person_basis": "people at risk in the window: score = mean monthly voluntary hazard, "
        "label = left voluntarily in the window",
        "bad_rows": bad_counts,
        "conventions": {
            "ceo_manager_id": "the CEO row has manager_id equal to its own employee_id (no manager)",
            "stale_manager_pointers": "some reports keep pointing at a manager who left; route to skip-level",
            "exit_date": "first day no longer employed; events are dated before it",
            "bad_row_kinds": "missing_id, impossible_date, unknown_manager/unknown_employee, wrong_type, "
            "duplicate; events of people whose own employees row is bad also name an id missing from the "
            "clean employees table (see bad_row_kind in ground_truth.csv)",
        },
    }
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    (truth_dir / "ground_truth.json").write_text(text, encoding="utf-8")
    return round(auc_pm, 4)  # as written to the JSON (nan when nobody left voluntarily)
