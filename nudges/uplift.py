"""Is a nudge doing anything? Differences of two rates with honest intervals. Pure functions.

A rate here is "k of n": stars whose signal recovered, or who left within the
horizon, with and without the nudge. The interval for a difference of two
rates is Newcombe's hybrid score interval (Newcombe 1998, method 10), built
from each rate's Wilson interval: it stays inside [-1, 1], behaves at 0 and n,
and keeps close to its nominal coverage at the small counts a new experiment
has. When it is still too wide to act on we say so, with an estimate of how
many more weeks of the current pace would narrow it enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class Rate:
    k: int
    n: int

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None


@dataclass(frozen=True)
class Difference:
    """`with_` minus `without`, its 95% interval, and whether it is narrow enough to read."""

    with_: Rate
    without: Rate
    estimate: float | None
    low: float | None
    high: float | None
    enough: bool
    weeks_needed: int | None  # more weeks at the current pace until `enough`; None if unknown or enough


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (0..1; (0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n (got k={k}, n={n})")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10). Both n must be positive."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both groups need at least one member")
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, low), min(1.0, high)


def difference(
    with_: Rate,
    without: Rate,
    *,
    max_half_width: float,
    weeks_so_far: int,
    min_per_group: int = 5,
) -> Difference:
    """The difference with its interval, or "not enough data yet" and a guess at how long to wait.

    Enough means both groups have `min_per_group` members and the interval is at
    most `2 * max_half_width` wide. The wait assumes each group keeps growing at its
    pace so far and the rates stay where they are (0.5 when there is no rate yet).
    """
    if not (with_.n and without.n):
        weeks = _weeks_needed(with_, without, max_half_width, weeks_so_far, min_per_group)
        return Difference(with_, without, None, None, None, False, weeks)
    d, low, high = newcombe(with_.k, with_.n, without.k, without.n)
    enough = min(with_.n, without.n) >= min_per_group and (high - low) / 2 <= max_half_width
    weeks = None if enough else _weeks_needed(with_, without, max_half_width, weeks_so_far, min_per_group)
    return Difference(with_, without, d, low, high, enough, weeks)


def _weeks_needed(
    with_: Rate, without: Rate, max_half_width: float, weeks_so_far: int, min_per_group: int
) -> int | None:
    """Weeks until both groups reach the size the normal approximation says the width needs.

    With the groups growing in the ratio seen so far (n1 = r * n2), the half width is
    z * sqrt(v1 / n1 + v2 / n2); solve for n2. None when a group has not grown at all.
    """
    if weeks_so_far <= 0 or max_half_width <= 0:
        return None
    p1 = with_.value if with_.value is not None else 0.5
    p2 = without.value if without.value is not None else 0.5
    # A rate seen at 0 or 1 still needs members before anyone should believe it.
    v1, v2 = max(p1 * (1 - p1), 0.01), max(p2 * (1 - p2), 0.01)
    ratio = with_.n / without.n if with_.n and without.n else 1.0
    n2 = max((Z95 / max_half_width) ** 2 * (v1 / ratio + v2), float(min_per_group), min_per_group / ratio)
    waits = []
    for have, want in ((without.n, n2), (with_.n, n2 * ratio)):
        if have >= want:
            waits.append(0)
            continue
        pace = have / weeks_so_far
        if pace <= 0:
            return None
        waits.append(math.ceil((want - have) / pace))
    return max(1, max(waits))
