"""Who counts as a star performer: HR's rule, applied to the latest rating."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class StarRule:
    min_rating: float | None = 4.0
    top_share: float | None = None
    combine: Literal["any", "all"] = "any"


def star_mask(rating_latest: np.ndarray, rule: StarRule, *, flag: np.ndarray | None = None) -> np.ndarray:
    """True for stars. `flag` is an HRIS column marking stars, combined like the other rules."""
    rating = np.asarray(rating_latest, dtype=np.float64)
    rated = ~np.isnan(rating)
    tests: list[np.ndarray] = []
    if rule.min_rating is not None:
        tests.append(rated & (np.nan_to_num(rating, nan=-np.inf) >= rule.min_rating))
    if rule.top_share is not None and rated.any():
        cutoff = np.quantile(rating[rated], 1.0 - rule.top_share)
        tests.append(rated & (np.nan_to_num(rating, nan=-np.inf) >= cutoff))
    if flag is not None:
        tests.append(np.asarray(flag, dtype=bool))
    if not tests:
        return rated
    stacked = np.vstack(tests)
    return np.asarray(stacked.any(axis=0) if rule.combine == "any" else stacked.all(axis=0))


def flagged(stars: np.ndarray, risk: np.ndarray, threshold: float) -> np.ndarray:
    """The week's flagged stars: stars whose risk is at or above the threshold (NaN risk never is).

    The one definition the selection, the week's counts and its stored stats share.
    """
    return np.asarray(stars, dtype=bool) & (np.asarray(risk, dtype=np.float64) >= threshold)
