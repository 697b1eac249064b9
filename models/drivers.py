"""Drivers: how much a person's predicted risk would drop if one signal were healthy again.

For each actionable signal we copy the person's feature row, restore that
signal's columns to a healthy level (never making them worse), and re-score
all copies in one batch. The drop in risk ranks nudges: the model decides which
nudge, not only who. Pay, tenure and other things a manager cannot change this
week are never drivers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ACTIONABLE: tuple[str, ...] = ("recognition", "one_on_ones", "career", "goals", "autonomy", "voice", "growth")


@dataclass(frozen=True)
class Healthy:
    """The level each signal is restored to; HR sets these in `[drivers]`."""

    recognition_days: float = 14
    recognition_90d: float = 6
    one_on_ones_held_90d: float = 6
    career_days: float = 60
    goals_days: float = 90
    autonomy: float = 4.0
    learning_days: float = 90
    growth: float = 4.0


def _at_most(frame: pd.DataFrame, column: str, value: float) -> None:
    if column in frame:
        frame[column] = np.fmin(frame[column].to_numpy(dtype=np.float64), value)


def _at_least(frame: pd.DataFrame, column: str, value: float) -> None:
    if column in frame:
        frame[column] = np.fmax(frame[column].to_numpy(dtype=np.float64), value)


def _recognition(frame: pd.DataFrame, h: Healthy) -> None:
    _at_most(frame, "days_since_recognition", h.recognition_days)
    _at_least(frame, "recognition_30d", h.recognition_90d / 3)
    _at_least(frame, "recognition_90d", h.recognition_90d)
    _at_least(frame, "recognition_180d", 2 * h.recognition_90d)
    _at_least(frame, "recognition_trend", 0)
    _at_least(frame, "givers_90d", min(3.0, h.recognition_90d))


def _one_on_ones(frame: pd.DataFrame, h: Healthy) -> None:
    _at_least(frame, "one_on_ones_held_90d", h.one_on_ones_held_90d)
    _at_least(frame, "one_on_ones_scheduled_90d", h.one_on_ones_held_90d)
    _at_most(frame, "one_on_ones_missed_90d", 0)
    _at_most(frame, "one_on_ones_missed_last4", 0)
    _at_most(frame, "days_since_one_on_one", 14)


def _career(frame: pd.DataFrame, h: Healthy) -> None:
    _at_most(frame, "days_since_career_talk", h.career_days)


def _at_least_if_known(frame: pd.DataFrame, column: str, value: float) -> None:
    # An unknown level stays unknown: we do not invent survey answers.
    if column in frame:
        values = frame[column].to_numpy(dtype=np.float64)
        frame[column] = np.where(np.isnan(values), values, np.fmax(values, value))


def _goals(frame: pd.DataFrame, h: Healthy) -> None:
    _at_most(frame, "days_since_goals_talk", h.goals_days)


def _survey_item(frame: pd.DataFrame, level: str, change: str, healthy: float) -> None:
    _at_least_if_known(frame, level, healthy)
    _at_least_if_known(frame, change, 0.0)


def _autonomy(frame: pd.DataFrame, h: Healthy) -> None:
    _survey_item(frame, "autonomy_latest", "autonomy_change", h.autonomy)


def _voice(frame: pd.DataFrame, h: Healthy) -> None:
    _survey_item(frame, "voice_latest", "voice_change", h.autonomy)


def _growth(frame: pd.DataFrame, h: Healthy) -> None:
    # Investing in someone's growth shows in recent learning and in how they rate their growth.
    _at_most(frame, "days_since_learning", h.learning_days)
    _at_least(frame, "learning_180d", 1)
    _at_least_if_known(frame, "growth_latest", h.growth)


# How risk may move as each actionable column grows (+1 up, -1 down). Given to the
# tree model so that restoring a signal can never be predicted to raise risk.
MONOTONIC: dict[str, int] = {
    "days_since_recognition": 1,
    "recognition_30d": -1,
    "recognition_90d": -1,
    "recognition_180d": -1,
    "givers_90d": -1,
    "one_on_ones_held_90d": -1,
    "one_on_ones_missed_90d": 1,
    "one_on_ones_missed_last4": 1,
    "days_since_one_on_one": 1,
    "days_since_career_talk": 1,
    "days_since_goals_talk": 1,
    "autonomy_latest": -1,
    "voice_latest": -1,
    "growth_latest": -1,
    "days_since_learning": 1,
    "learning_180d": -1,
}

RESTORE: dict[str, Callable[[pd.DataFrame, Healthy], None]] = {
    "recognition": _recognition,
    "one_on_ones": _one_on_ones,
    "career": _career,
    "goals": _goals,
    "autonomy": _autonomy,
    "voice": _voice,
    "growth": _growth,
}


def restored(frame: pd.DataFrame, signal: str, healthy: Healthy) -> pd.DataFrame:
    copy = frame.copy()
    RESTORE[signal](copy, healthy)
    return copy


def risk_and_drivers(
    predict: Callable[[pd.DataFrame], np.ndarray],
    frame: pd.DataFrame,
    healthy: Healthy,
    *,
    focus: np.ndarray | None = None,
    min_risk: float | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Risk per row and, per signal, the risk drop from restoring it (0 when already healthy).

    Counterfactuals are scored only for the `focus` rows (e.g. star performers)
    whose risk is at least `min_risk` (the nudge threshold): nudges are only ever
    about them, and it keeps the batch small (at 100k people, 7x fewer rows).
    """
    n = len(frame)
    risk = predict(frame) if n else np.zeros(0)
    drivers = {s: np.zeros(n) for s in ACTIONABLE}
    wanted = np.ones(n, dtype=bool) if focus is None else np.asarray(focus, dtype=bool)
    if min_risk is not None:
        wanted = wanted & (risk >= min_risk)
    rows = np.flatnonzero(wanted)
    if len(rows) == 0:
        return risk, drivers
    base = frame.iloc[rows].reset_index(drop=True)
    variants = [restored(base, s, healthy) for s in ACTIONABLE]
    scored = predict(pd.concat(variants, ignore_index=True))
    m = len(rows)
    for k, (signal, variant) in enumerate(zip(ACTIONABLE, variants, strict=True)):
        drop = risk[rows] - scored[k * m : (k + 1) * m]
        unchanged = restored_equal(base, variant)
        drivers[signal][rows] = np.where(unchanged, 0.0, np.clip(drop, 0.0, None))
    return risk, drivers


def restored_equal(original: pd.DataFrame, restored_rows: pd.DataFrame) -> np.ndarray:
    """Rows the restoration left untouched: their driver is exactly zero."""
    a = original.reset_index(drop=True)
    b = restored_rows.reset_index(drop=True)
    same = np.ones(len(a), dtype=bool)
    for column in a.columns:
        left, right = a[column], b[column]
        same &= ((left == right) | (left.isna() & right.isna())).to_numpy(dtype=bool)
    return same
