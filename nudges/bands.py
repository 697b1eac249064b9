"""Risk bands: the one place that turns a score into "low", "elevated" or "high".

The manager digest (when HR shows bands) and the HR summary must agree on what
"high" means, so both call `bands()` with the configured threshold instead of
keeping their own cut-offs.
"""

from __future__ import annotations

import numpy as np

BANDS: tuple[str, str, str] = ("low", "elevated", "high")


def high_from(threshold: float) -> float:
    """Where "high" starts: twice the threshold, or halfway from it to 1 if that is lower."""
    return min(2 * threshold, (1 + threshold) / 2)


def bands(risk: np.ndarray, threshold: float) -> np.ndarray:
    """Band names (object array) for `risk`: "elevated" from the threshold, "high" from `high_from` it.

    Elevated and high are exactly the people the threshold flags, so a digest
    (where everyone shown is flagged) can still tell the two apart. A missing
    score (NaN) is "low": no score is no evidence of risk, and it must never put
    a person on a list by accident.
    """
    values = np.asarray(risk, dtype=np.float64)
    known = ~np.isnan(values)
    safe = np.where(known, values, -np.inf)
    out = np.full(values.shape, BANDS[0], dtype=object)
    out[known & (safe >= threshold)] = BANDS[1]
    out[known & (safe >= high_from(threshold))] = BANDS[2]
    return out
