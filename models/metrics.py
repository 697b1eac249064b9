"""How good a leaver score is, as plain numbers a report can show (all values JSON-able)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from core.errors import ModelError

OTHER_GROUP = "other (small groups)"
MISSING_GROUP = "(missing)"


def _as_arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.int64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if len(y) != len(p):
        raise ModelError(f"labels and scores differ in length ({len(y)} vs {len(p)})")
    return y, p


def lift_top_decile(y: np.ndarray, p: np.ndarray) -> float:
    """Leaver rate among the 10% highest scores over the overall rate: how much a short list beats chance."""
    y, p = _as_arrays(y, p)
    top = np.argsort(-p, kind="stable")[: max(1, math.ceil(0.1 * len(y)))]
    return float(y[top].mean() / y.mean())


def evaluate(y: np.ndarray, p: np.ndarray) -> dict[str, float | int]:
    """Ranking (ROC-AUC, average precision, top-decile lift) and probability quality (Brier) of scores `p`."""
    y, p = _as_arrays(y, p)
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise ModelError("cannot evaluate scores on rows that are all leavers or all stayers")
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "lift_top_decile": lift_top_decile(y, p),
        "base_rate": float(y.mean()),
        "n": len(y),
        "positives": positives,
    }


def calibration_table(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> list[dict[str, float | int]]:
    """Equal-count bins of the scores: does a predicted 30% come true about 30% of the time?"""
    y, p = _as_arrays(y, p)
    order = np.argsort(p, kind="stable")
    rows: list[dict[str, float | int]] = []
    for number, idx in enumerate(np.array_split(order, bins), start=1):
        if len(idx) == 0:
            continue
        rows.append(
            {
                "bin": number,
                "count": len(idx),
                "mean_predicted": float(p[idx].mean()),
                "observed_rate": float(y[idx].mean()),
            }
        )
    return rows


def _group_label(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_GROUP
    return str(value)


def group_rates(
    groups: np.ndarray,
    y: np.ndarray,
    flagged: np.ndarray,
    *,
    min_group_size: int = 5,
) -> list[dict[str, str | int | float | None]]:
    """Leaver and flag rates per group, so a reviewer can see whether flags fall unevenly.

    Groups with fewer than `min_group_size` people are pooled into one row and
    never shown alone; if even the pool is that small its rates are withheld
    (None), since they would describe a handful of identifiable people.
    """
    labels = np.array([_group_label(g) for g in np.asarray(groups, dtype=object).ravel()], dtype=object)
    y = np.asarray(y, dtype=np.float64).ravel()
    flagged = np.asarray(flagged, dtype=bool).ravel()
    if not len(labels) == len(y) == len(flagged):
        raise ModelError(f"groups, labels and flags differ in length ({len(labels)}, {len(y)}, {len(flagged)})")
    names, counts = np.unique(labels, return_counts=True)
    small = {str(n) for n, c in zip(names, counts, strict=True) if c < min_group_size}
    pooled = np.array([OTHER_GROUP if g in small else g for g in labels], dtype=object)
    rows: list[dict[str, str | int | float | None]] = []
    for name in [*sorted(set(pooled) - {OTHER_GROUP}), *([OTHER_GROUP] if small else [])]:
        members = pooled == name
        n = int(members.sum())
        shown = n >= min_group_size
        rows.append(
            {
                "group": str(name),
                "n": n,
                "leaver_rate": float(y[members].mean()) if shown else None,
                "flag_rate": float(flagged[members].mean()) if shown else None,
            }
        )
    return rows
