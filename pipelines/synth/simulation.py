"""The monthly loop: drift, hazard-driven exits, backfills, leave, promotions, then events.

Exits are drawn from the true hazard (`hazard.HAZ`) evaluated on the same
state the event generators write to the files, so the truth is exact.
"""

from __future__ import annotations

import math

import numpy as np

from pipelines.synth import Progress
from pipelines.synth.dates import review_days
from pipelines.synth.events import (
    Chunk,
    learning,
    one_on_ones,
    rank_in_groups,
    recognition,
    reviews,
    survey,
)
from pipelines.synth.hazard import HAZ
from pipelines.synth.org import Org
from pipelines.synth.people import NEVER, People, traits
from pipelines.synth.tree import Tree
from pipelines.synth.vocab import NO_SHOW_P

PRIOR_CYCLES = 2  # review cycles before the window that the HRIS still holds (a year)


class Simulation:
    """Month-by-month simulation: hazards, exits, backfills, then the month's events."""

    def __init__(self, tree: Tree, bounds: np.ndarray, rng: np.random.Generator) -> None:
        self.bounds, self.rng = bounds, rng
        self.months = bounds.size - 1
        self.end_day = int(bounds[-1]) - 1
        n = tree.parent.size
        reorg = tree.reorg_month.copy()
        picked = reorg == -2
        reorg[picked] = rng.integers(0, self.months, int(picked.sum()))
        people = People(capacity=n + int(n * 0.3 * self.months / 12) + 64)
        self.events: dict[str, list[Chunk]] = {
            k: []
            for k in ("recognition", "one_on_ones", "autonomy_survey", "learning", "performance", "promotions")
        }
        self.person_months: list[Chunk] = []
        self.baselines: list[dict[str, float]] = []
        people.add(self._initial_people(tree))
        self.org = Org(tree, people, reorg, base_day=int(bounds[0]) - 13 * 366)
        self._prior_reviews(rng.spawn(1)[0])

    def _initial_people(self, tree: Tree) -> dict[str, np.ndarray]:
        """Fill every position at the window start with plausible prior history."""
        rng, d0, n = self.rng, int(self.bounds[0]), tree.parent.size
        tenure = -3.0 * np.log1p(-rng.random(n) * (1 - math.exp(-12 / 3.0)))  # exp(mean 3y) cut at 12y
        is_mgr = tree.n_children > 0
        tenure = np.where(is_mgr, np.minimum(tenure + rng.uniform(0.5, 4.0, n), 12.0), tenure)
        tenure[0] = rng.uniform(6.0, 12.0)
        hire = d0 - 1 - np.floor(tenure * 365.25).astype(np.int64)
        pos = np.arange(n, dtype=np.int64)
        t = traits(rng, pos, hire)
        tdays = (d0 - hire).astype(float)
        t["seniority"] = np.clip(np.floor(tenure / 3) + (rng.random(n) < 0.3), 0, 2).astype(np.int8)
        eff = t["recog_rate"] * np.where(t["drought"], 0.08, 1.0)
        t["last_recog"] = d0 - np.minimum(rng.exponential(30.0 / eff), tdays).astype(np.int64)
        mgr = np.maximum(tree.parent, 0)  # initial people sit at index == position
        p_held = np.clip(1 - t["cancel"][mgr] - NO_SHOW_P, 0.05, 1.0)
        t["held"] = rng.binomial(np.repeat(t["cadence"][mgr][:, None], 3, 1), p_held[:, None]).astype(np.int16)
        career_rate = t["cadence"][mgr] * p_held * t["career_p"]
        career_gap = rng.exponential(30.0 / np.maximum(career_rate, 1e-3))
        t["last_career"] = d0 - np.minimum(career_gap, tdays).astype(np.int64)
        t["last_learn"] = d0 - np.minimum(rng.exponential(30.0 / t["learn_rate"]), tdays).astype(np.int64)
        t["msp"] = rng.random(n) * np.minimum(tdays / 30.44, 60.0)
        # The HRIS keeps the last promotion before the window (none for a first role held since hire).
        promoted = t["msp"] < tdays / 30.44 - 3.0
        self.events["promotions"].append(
            {"employee": np.flatnonzero(promoted), "day": d0 - np.rint(t["msp"][promoted] * 30.44).astype(np.int64)}
        )
        on_leave = (tree.n_children == 0) & (rng.random(n) < 0.02)
        t["leave_start"] = np.where(on_leave, d0 - rng.integers(1, 90, n), -1)
        t["leave_end"] = np.where(on_leave, d0 + rng.integers(1, 120, n), -1)
        return t

    def _prior_reviews(self, rng: np.random.Generator) -> None:
        """The last review cycles before the window, so a window without a cycle still has ratings.

        Drawn from their own stream so the simulated window is the same with or
        without them; dated before the window start, when nobody has left yet.
        """
        d0 = int(self.bounds[0])
        everyone = np.arange(self.org.P.n)
        for cycle in review_days(d0 - 366 * PRIOR_CYCLES, d0)[-PRIOR_CYCLES:]:
            self.events["performance"].append(reviews(self.org, rng, everyone, cycle, d0))

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
        P, rng = self.org.P, self.rng
        n = P.n
        d = P["drought"]
        d[:] = np.where(d, rng.random(n) < 0.7, rng.random(n) < 0.07)
        busy = P["busy"]
        busy[:] = np.where(busy, rng.random(n) < 0.6, rng.random(n) < 0.06)
        P["auto_ar"][:] = 0.7 * P["auto_ar"] + rng.normal(0.0, 0.14, n)
        P["growth_ar"][:] = 0.7 * P["growth_ar"] + rng.normal(0.0, 0.12, n)

    def _exits(self, m: int, a: int, b: int) -> np.ndarray:
        """Draw voluntary and involuntary exits for everyone employed at the month start."""
        org, rng, haz = self.org, self.rng, HAZ
        P = org.P
        R = np.flatnonzero((P["hire"] <= a) & (P["exit"] > a) & (P["pos"] != 0))
        day = np.full(R.size, a, dtype=np.int64)
        aut = org.autonomy(R, org.manager(R, day), m)
        prev = P["auto_hist"][R, (m + 1) % 4]  # latent autonomy three months ago
        drop = np.where(np.isnan(prev), 0.0, prev - aut)
        growth = org.growth(R, a)
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
        P, tree, rng = self.org.P, self.org.tree, self.rng
        pos = P["pos"]
        mgrs = leavers[tree.n_children[pos[leavers]] > 0]
        if mgrs.size == 0:
            return
        n_pos = tree.parent.size
        lpos = pos[mgrs]
        parent = tree.parent[pos]
        employed = (P["hire"] <= a) & (P["exit"] == NEVER)
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
        pick = rank_in_groups(counts) < k_by_pos[grp]
        stale[cand[pick]] = departing[grp[pick]]

    def _backfill(self, leavers: np.ndarray) -> None:
        """Replace every leaver in the same position, hired no later than `end`."""
        if leavers.size == 0:
            return
        P, rng = self.org.P, self.rng
        ex = P["exit"][leavers]
        hire = ex + rng.integers(0, 61, leavers.size)
        late = hire > self.end_day
        room = self.end_day - ex[late] + 1
        hire[late] = ex[late] + np.floor(rng.random(int(late.sum())) * room).astype(np.int64)
        self.org.hire(traits(rng, P["pos"][leavers], hire))

    def _leaves(self, a: int, b: int) -> None:
        """Start leave spells (about 2% of individual contributors away at a time)."""
        P, rng = self.org.P, self.rng
        ok = (
            (self.org.tree.n_children[P["pos"]] == 0)
            & (P["hire"] <= a)
            & (P["exit"] == NEVER)
            & (P["leave_end"] <= a)
            & (rng.random(P.n) < 0.006)
        )
        idx = np.flatnonzero(ok)
        start = a + np.floor(rng.random(idx.size) * (b - a)).astype(np.int64)
        P["leave_start"][idx] = start
        P["leave_end"][idx] = start + rng.integers(30, 181, idx.size)

    def _promotions(self, a: int) -> None:
        """Promotions, effective at the month start and recorded in the HRIS; better performers go first."""
        P, rng = self.org.P, self.rng
        employed = (P["hire"] <= a) & (P["exit"] > a)
        promo = employed & (P["msp"] >= 12) & (rng.random(P.n) < 0.02 * np.exp(0.5 * P["perf"]))
        idx = np.flatnonzero(promo)
        self.events["promotions"].append({"employee": idx, "day": np.full(idx.size, a, dtype=np.int64)})
        P["msp"][promo] = 0.0
        P["promotions"][promo] += 1
        P["msp"][employed] += 1.0

    def _month_events(self, m: int, a: int, b: int) -> None:
        """Every event of month m for everyone employed at some point in it."""
        org, rng, ev = self.org, self.rng, self.events
        P = org.P
        A = np.flatnonzero((P["hire"] < b) & (P["exit"] > a))
        lo = np.maximum(P["hire"][A], a)
        hi = np.minimum(P["exit"][A], b)
        mgr = org.manager(A, lo)
        aut = org.autonomy(A, mgr, m)
        P["auto_hist"][A, m % 4] = aut
        ev["recognition"].append(recognition(org, rng, A, lo, hi, mgr, a, b))
        ev["one_on_ones"].append(one_on_ones(org, rng, m, A, lo, hi, a, b))
        ev["autonomy_survey"].append(survey(org, rng, A, lo, hi, aut, a, b))
        ev["learning"].append(learning(org, rng, A, lo, hi, a, b))
        for day in review_days(a, b):
            ev["performance"].append(reviews(org, rng, A, day, b))
