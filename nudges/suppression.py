"""People by risk band and department for the HR summary, with small counts suppressed.

The summary's one table of people, and the one place that decides what of it may be
shown (HR reads the summary, and it may be forwarded):
- a department has its own row only with at least N (`min_group_size`) people in that
  population; smaller ones are pooled into one "Other (groups under N)" row, which is
  left out if even the pool is under N;
- a band count of 1..N-1 is suppressed (None), and more cells are suppressed until none
  of those can be worked out by subtraction: from its row total, from a column total, or
  by comparing the everyone and star tables (which would give the counts of non-stars).
  See `_protect`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nudges.bands import BANDS, bands

MISSING_DEPARTMENT = "(no department)"
ALL_DEPARTMENTS = "All departments"
PEOPLE = "people"
_KEYS: tuple[str, ...] = (PEOPLE, *BANDS)


@dataclass
class _Row:
    """One row of a band table while suppression is decided (mutable on purpose)."""

    label: str
    departments: frozenset[str]
    counts: dict[str, int]
    hidden: set[str] = field(default_factory=set)

    def shown(self, key: str) -> bool:
        return key not in self.hidden


@dataclass
class _Table:
    rows: list[_Row]
    total: _Row
    omitted: frozenset[str]  # departments pooled and left out because the pool is under N


def _department_labels(departments: Iterable[object]) -> np.ndarray:
    def label(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
            return MISSING_DEPARTMENT
        return str(value)

    return np.array([label(d) for d in departments], dtype=object)


def _counts(band_of: np.ndarray) -> dict[str, int]:
    found = Counter(str(b) for b in band_of)
    return {PEOPLE: len(band_of), **{b: int(found.get(b, 0)) for b in BANDS}}


def other_label(n: int) -> str:
    return f"Other (groups under {n})"


def _table(labels: np.ndarray, band_of: np.ndarray, n: int) -> _Table:
    """Rows for departments of at least `n` people, then the pool of smaller ones if it reaches `n`."""
    names, sizes = np.unique(labels, return_counts=True)
    big = sorted(str(d) for d, c in zip(names, sizes, strict=True) if c >= n)
    small = frozenset(str(d) for d, c in zip(names, sizes, strict=True) if c < n)
    rows = [_Row(d, frozenset({d}), _counts(band_of[labels == d])) for d in big]
    omitted: frozenset[str] = frozenset()
    if small:
        pooled = np.isin(labels, list(small))
        if int(pooled.sum()) >= n:
            rows.append(_Row(other_label(n), small, _counts(band_of[pooled])))
        else:
            omitted = small
    return _Table(rows=rows, total=_Row(ALL_DEPARTMENTS, frozenset(names.tolist()), _counts(band_of)), omitted=omitted)


def _primary(row: _Row, n: int) -> None:
    """Hide band counts of 1..n-1; a row whose population is under n shows nothing at all."""
    if row.counts[PEOPLE] < n:
        row.hidden.update(_KEYS)
        return
    row.hidden.update(b for b in BANDS if 0 < row.counts[b] < n)


def _complete_row(row: _Row) -> bool:
    """people = low + elevated + high, so one hidden value in a row is one subtraction away: hide another."""
    if len(row.hidden) != 1:
        return False
    candidates = sorted((row.counts[b], i, b) for i, b in enumerate(BANDS) if row.shown(b) and row.counts[b] > 0)
    row.hidden.add(candidates[0][2] if candidates else PEOPLE)
    return True


def _complete_columns(table: _Table) -> bool:
    """A column total minus the shown cells gives the one hidden cell (or the left-out pool): hide another.

    The left-out pool counts as hidden in every band column, since its band
    counts must stay unknown; its head count alone (total minus shown rows) is
    not a risk figure and may be derived. When everyone is in one band the
    zero totals already say so for every group, so there is nothing to hide.
    Prefer hiding the smallest shown cell in the column, in a row that can
    complete its own suppression with a band, so that the organisation-wide
    totals and row head counts stay visible; else hide the total.
    """
    spread = sum(table.total.counts[b] > 0 for b in BANDS) > 1
    changed = False
    for key in _KEYS:
        if not table.total.shown(key) or table.total.counts[key] == 0 or (key != PEOPLE and not spread):
            continue
        hidden = sum(not r.shown(key) for r in table.rows) + (1 if table.omitted and key != PEOPLE else 0)
        if hidden != 1:
            continue
        candidates = sorted(
            (r.counts[key], i)
            for i, r in enumerate(table.rows)
            if r.shown(key)
            and r.counts[key] > 0
            and (r.hidden or any(b != key and r.shown(b) and r.counts[b] > 0 for b in BANDS))
        )
        if candidates:
            table.rows[candidates[0][1]].hidden.add(key)
        else:
            table.total.hidden.add(key)
        changed = True
    return changed


def _union(rows: Iterable[_Row]) -> frozenset[str]:
    return frozenset().union(*(r.departments for r in rows))


def _known_everyone(everyone: _Table, departments: frozenset[str], no_stars: frozenset[str], key: str) -> int | None:
    """The everyone-count a reader can compute for the departments of a star row, else None.

    The reader may add departments without stars (they change nothing on the
    star side), so any set between `departments` and `departments | no_stars`
    will do. Two ways exist: add the rows that hold those departments, or take
    the total and subtract the rows holding every other starred department.
    Only shown cells can be used. Extra rows of star-free departments only add
    0 or at least N, so the fewest rows give the smallest, riskiest difference.
    """
    allowed = departments | no_stars
    touching = [r for r in everyone.rows if r.departments & departments]
    if departments <= _union(touching) and all(r.departments <= allowed and r.shown(key) for r in touching):
        return sum(r.counts[key] for r in touching)
    others = everyone.total.departments - allowed
    required = [r for r in everyone.rows if r.departments & others]
    if (
        everyone.total.shown(key)
        and others <= _union(required)
        and all(not (r.departments & departments) and r.shown(key) for r in required)
    ):
        return everyone.total.counts[key] - sum(r.counts[key] for r in required)
    return None


def _protect_non_stars(everyone: _Table, stars: _Table, n: int) -> bool:
    """Everyone minus stars gives non-stars: hide star cells that would reveal under-n non-star counts."""
    no_stars = everyone.total.departments - stars.total.departments
    changed = False
    for row in [*stars.rows, stars.total]:
        people = _known_everyone(everyone, row.departments, no_stars, PEOPLE)
        remainder = None if people is None or not row.shown(PEOPLE) else people - row.counts[PEOPLE]
        for b in BANDS:
            if not row.shown(b):
                continue
            known = _known_everyone(everyone, row.departments, no_stars, b)
            if not known:  # unknown, or 0 for everyone and so for every subgroup already
                continue
            derived = known - row.counts[b]
            if 0 < derived < n or (remainder is not None and 0 < remainder < n):
                row.hidden.add(b)
                changed = True
    return changed


def _protect(everyone: _Table, stars: _Table, n: int) -> None:
    """Primary suppression, then complementary suppression until no rule adds a hidden cell.

    Each rule only ever hides more, so the loop ends. The rules block the
    subtractions a reader can do on one page (row total, column total, everyone
    minus stars); they are not a full linear-programming audit.
    """
    tables = (everyone, stars)
    for table in tables:
        for row in [*table.rows, table.total]:
            _primary(row, n)
    changed = True
    while changed:
        changed = False
        for table in tables:
            for row in [*table.rows, table.total]:
                changed |= _complete_row(row)
            changed |= _complete_columns(table)
        changed |= _protect_non_stars(everyone, stars, n)


def _row_json(row: _Row) -> dict[str, Any]:
    return {
        "department": row.label,
        "people": row.counts[PEOPLE] if row.shown(PEOPLE) else None,
        "bands": {b: (row.counts[b] if row.shown(b) else None) for b in BANDS},
    }


def _table_json(table: _Table, n: int) -> dict[str, Any]:
    return {
        "rows": [_row_json(r) for r in table.rows],
        "total": _row_json(table.total),
        "omitted_note": (
            f"Departments under {n} people have fewer than {n} people between them here,"
            " so they have no row (they still count in the totals where those are shown)."
            if table.omitted
            else None
        ),
    }


def people_by_band(
    departments: Sequence[object], risks: np.ndarray, stars: np.ndarray, *, threshold: float, min_group_size: int
) -> dict[str, Any]:
    """People by risk band and department, for everyone scored and for stars, with small counts suppressed."""
    labels = _department_labels(departments)
    band_of = bands(np.asarray(risks, dtype=np.float64), threshold)
    is_star = np.asarray(stars, dtype=bool)
    n = max(int(min_group_size), 1)
    everyone = _table(labels, band_of, n)
    starred = _table(labels[is_star], band_of[is_star], n)
    _protect(everyone, starred, n)
    return {"everyone": _table_json(everyone, n), "stars": _table_json(starred, n)}
