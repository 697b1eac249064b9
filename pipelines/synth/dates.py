"""Calendar arithmetic on day numbers (days since 1970-01-01), the generator's time axis."""

from __future__ import annotations

import datetime as dt

import numpy as np

REVIEW_MONTHS = (1, 7)  # semi-annual review cycles start on the 15th of these months


def month_bounds(end: dt.date, months: int) -> np.ndarray:
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


def review_days(a: int, b: int) -> list[int]:
    """Review-cycle start days (15 January / 15 July) falling in [a, b)."""
    start = dt.date(1970, 1, 1) + dt.timedelta(days=a)
    stop = dt.date(1970, 1, 1) + dt.timedelta(days=b)
    out = []
    for year in range(start.year, stop.year + 1):
        for month in REVIEW_MONTHS:
            day = (dt.date(year, month, 15) - dt.date(1970, 1, 1)).days
            if a <= day < b:
                out.append(day)
    return out


def weekday(day: np.ndarray) -> np.ndarray:
    """Move Saturday events to Friday and Sunday events to Monday."""
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return day + np.where(dow == 5, -1, np.where(dow == 6, 1, 0))
