"""The hierarchy of positions: fixed for the whole window (people come and go, positions stay)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipelines.synth.vocab import DEPARTMENT_WEIGHT


@dataclass(frozen=True)
class Tree:
    """Fixed positions; people come and go, positions stay (backfills)."""

    parent: np.ndarray  # position -> parent position (-1 for the CEO)
    level: np.ndarray  # 0 for the CEO
    dept: np.ndarray  # department index (-1 for the CEO)
    n_children: np.ndarray  # direct reports per position
    role: np.ndarray  # individual-contributor role within the department
    reorg_month: np.ndarray  # month a manager position's team is reorganised (-1: never)


def build_tree(n: int, rng: np.random.Generator) -> Tree:
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
            weight = np.asarray(DEPARTMENT_WEIGHT[: cur.size]) * rng.lognormal(0.0, 0.15, cur.size)
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
    return Tree(parent, level, dept, n_children, rng.integers(0, 3, n), reorg)


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
