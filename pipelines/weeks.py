"""ISO weeks: the unit of a run. A week's digest reflects everything before its Monday."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.errors import ConfigError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        match = _WEEK.match(text.strip())
        if not match:
            raise ConfigError(f"week {text!r} is not an ISO week like 2026-W05")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ConfigError(f"week {text!r} does not exist (year {year} has no week {week})") from None
        return cls(year, week)

    @classmethod
    def containing(cls, day: date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def as_of(self) -> datetime:
        """The moment features are taken: the start of the week's Monday."""
        return datetime.combine(self.monday, time.min)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.containing(self.monday + timedelta(weeks=weeks))
