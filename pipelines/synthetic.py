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
- `performance` also holds the last two review cycles before the window start,
  as an HRIS keeps review history, so everyone with 90+ days of tenure at the
  last cycle has a rating even when no cycle falls inside a short window.
- Every position is filled at the end of the window (backfills are hired on or
  before `end`), so active managers have 3-12 direct reports in the clean file.
- Bad rows are deliberate and counted per file and kind in
  `_truth/ground_truth.json` (`bad_rows`).

Everything is vectorised with numpy; the only Python loops run over months,
tree levels, files and columns, never over people or events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np

from core.contract import EMPLOYEES
from pipelines.synth import Progress
from pipelines.synth.columns import id_strings
from pipelines.synth.dates import month_bounds
from pipelines.synth.simulation import Simulation
from pipelines.synth.tree import build_tree
from pipelines.synth.truth import write_truth
from pipelines.synth.writing import write_sources

__all__ = ["SynthResult", "SynthSpec", "generate"]


@dataclass(frozen=True)
class SynthSpec:
    """What to generate; the same spec (with an explicit `end`) gives the same bytes."""

    employees: int = 1000  # active headcount at the start of the window
    months: int = 24  # length of signal history (a 180-day model needs well over a year)
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
    employees: int  # rows in employees.csv (deliberately bad rows included)
    people: int  # everyone employed at some point in the window: the starting headcount, then hires
    voluntary_exits: int
    involuntary_exits: int
    oracle_auc: float


def generate(spec: SynthSpec, out_dir: Path, *, progress: Progress | None = None) -> SynthResult:
    """Write a synthetic drop folder (and its truth in `_truth/`) into `out_dir`."""
    _validate(spec)
    report: Progress = progress or _no_progress
    rng = np.random.default_rng(spec.seed)
    end = spec.end or dt.date.today()
    tree = build_tree(spec.employees, rng)
    report("organisation", 0.02)
    sim = Simulation(tree, month_bounds(end, spec.months), rng)
    sim.run(report)

    out_dir = Path(out_dir)
    truth_dir = out_dir / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    ids = id_strings(sim.org.P.n)
    con = duckdb.connect()
    try:
        written = write_sources(con, sim, ids, out_dir, rng, spec.bad_row_share, report)
        report("truth", 0.96)
        auc_pm = write_truth(con, sim, ids, written, truth_dir, {**asdict(spec), "end": end.isoformat()})
    finally:
        con.close()
    report("done", 1.0)
    exit_type = sim.org.P["exit_type"]
    return SynthResult(
        out_dir=out_dir,
        files=written.files,
        rows=written.rows,
        bad_rows={name: sum(k.values()) for name, k in written.bad_counts.items()},
        employees=written.rows[EMPLOYEES.name],
        people=int(sim.org.P.n),
        voluntary_exits=int((exit_type == 1).sum()),
        involuntary_exits=int((exit_type == 2).sum()),
        oracle_auc=auc_pm,
    )


def existing_spec(out_dir: Path) -> dict[str, object] | None:
    """The spec a synthetic drop folder was generated with (from its `_truth/`), or None."""
    import json

    try:
        spec = json.loads((Path(out_dir) / "_truth" / "ground_truth.json").read_text(encoding="utf-8"))["spec"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return spec if isinstance(spec, dict) else None


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
