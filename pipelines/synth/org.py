"""Who holds which position on a given day, and the latent signals that follow from it.

The simulation and the event generators share this state: both ask who
someone's manager was on a day, how autonomous and how much growing they feel,
and whether an event would fall inside their employment.
"""

from __future__ import annotations

import numpy as np

from pipelines.synth.people import People
from pipelines.synth.tree import Tree

_SPAN = 1 << 22  # days per position block in the occupancy index


class Occupancy:
    """Who holds a position on a given day (positions are refilled, never shared)."""

    def __init__(self, people: People, base_day: int) -> None:
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


class Org:
    """The positions, everyone who held them, and the re-organised teams."""

    def __init__(self, tree: Tree, people: People, reorg: np.ndarray, base_day: int) -> None:
        self.tree, self.P, self.reorg, self.base_day = tree, people, reorg, base_day
        self.occ = Occupancy(people, base_day)

    def hire(self, values: dict[str, np.ndarray]) -> None:
        """Add people and re-index occupancy so lookups see them."""
        self.P.add(values)
        self.occ = Occupancy(self.P, self.base_day)

    def manager(self, idx: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Current occupant of each person's parent position (-1: CEO or vacancy)."""
        pp = self.tree.parent[self.P["pos"][idx]]
        return np.where(pp >= 0, self.occ.current(np.maximum(pp, 0), day), -1)

    def autonomy(self, idx: np.ndarray, mgr: np.ndarray, m: int) -> np.ndarray:
        """Latent autonomy: person + manager style + re-org slide + monthly noise."""
        P = self.P
        pp = self.tree.parent[P["pos"][idx]]
        rm = np.where(pp >= 0, self.reorg[np.maximum(pp, 0)], -1)
        slide = np.where(rm >= 0, np.clip(m - rm + 1, 0, 4), 0) * -0.25
        style = np.where(mgr >= 0, P["style"][np.maximum(mgr, 0)], 0.0)
        return P["auto_base"][idx] + style + slide + P["auto_ar"][idx]

    def growth(self, idx: np.ndarray, day: int) -> np.ndarray:
        """Latent growth: recent learning helps, a long wait for promotion hurts."""
        P = self.P
        learned = (day - P["last_learn"][idx]) < 183
        stuck = np.clip((P["msp"][idx] - 24) / 12, 0, 3)
        return P["growth_base"][idx] + 0.35 * learned - 0.2 * stuck + P["growth_ar"][idx]

    def keep(self, who: np.ndarray, day: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Events inside the employment interval and outside any leave spell."""
        P = self.P
        on_leave = (P["leave_start"][who] <= day) & (day < P["leave_end"][who])
        return (day >= lo) & (day < hi) & ~on_leave
