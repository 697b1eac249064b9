"""Which columns of a flat table a model may read, and how each is encoded.

Every decision (which columns to scale, log, one-hot or drop, and why) is made
from the training rows only, so cross-validated scores stay honest. Protected
attributes are named here once, so every caller leaves out the same columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

PROTECTED_DEFAULT: tuple[str, ...] = (
    "age",
    "agegroup",
    "ageband",
    "agebracket",
    "agerange",
    "dateofbirth",
    "birthdate",
    "dob",
    "yearofbirth",
    "birthyear",
    "over18",
    "gender",
    "genderidentity",
    "sex",
    "maritalstatus",
    "civilstatus",
    "ethnicity",
    "ethnicgroup",
    "ethnicorigin",
    "race",
    "disability",
    "disabilitystatus",
    "disabled",
    "religion",
    "belief",
    "nationality",
    "citizenship",
    "nationalorigin",
    "countryofbirth",
    "pregnancy",
    "pregnant",
    "maternity",
    "sexualorientation",
    "veteranstatus",
)
"""Normalised names (lower case, letters and digits only) of columns a retention model must not use."""

MAX_LOW_CARD = 10
MAX_CATEGORIES = 50
SKEW_THRESHOLD = 0.75
_ID_NAME = re.compile(r"(id|number|num|no|code|key|uuid|guid)$")


def normalise_name(name: str) -> str:
    """Lower case, letters and digits only, so "Marital Status" and "marital_status" compare equal."""
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())


def protected_columns(columns: Iterable[str], *, extra: Iterable[str] = ()) -> list[str]:
    """The columns whose normalised name is protected, in table order, so they can be left out of training."""
    names = {normalise_name(n) for n in (*PROTECTED_DEFAULT, *extra)}
    return [c for c in columns if normalise_name(c) in names]


@dataclass(frozen=True)
class ColumnPlan:
    """How each column of a training table is encoded, and why the others are left out."""

    plain: list[str]
    skewed: list[str]
    low_card: list[str]
    categorical: list[str]
    dropped: dict[str, str]

    def features(self) -> list[str]:
        """The columns a model built from this plan reads, in a fixed order."""
        return [*self.plain, *self.skewed, *self.low_card, *self.categorical]

    def numeric(self) -> list[str]:
        """All numeric feature columns."""
        return [*self.plain, *self.skewed, *self.low_card]


def _is_identifier(values: pd.Series, *, name: str, numeric: bool) -> bool:
    """All values distinct and shaped like a key: text, or whole numbers named like an id or densely packed.

    Continuous measurements are often all distinct too, so a numeric column
    only counts as an identifier when it holds whole numbers that are named
    like a key (EmployeeNumber, staff_id) or fill at least half their range
    (a row number).
    """
    present = values.dropna()
    if len(present) < 2 or present.nunique() != len(present):
        return False
    if not numeric:
        return True
    numbers = present.to_numpy(dtype=np.float64)
    if not np.all(np.equal(np.mod(numbers, 1), 0)):
        return False
    span = float(numbers.max() - numbers.min() + 1)
    return bool(_ID_NAME.search(normalise_name(name))) or len(numbers) >= 0.5 * span


def _numeric_kind(values: pd.Series) -> str:
    """"low_card", "skewed" or "plain" for a numeric training column."""
    present = values.dropna().astype(np.float64)
    if present.nunique() <= MAX_LOW_CARD:
        return "low_card"
    if present.min() >= 0 and abs(float(present.skew())) > SKEW_THRESHOLD:
        return "skewed"
    return "plain"


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def plan_columns(X: pd.DataFrame, *, exclude: Iterable[str] = ()) -> ColumnPlan:
    """Decide each column's encoding from these rows alone: call it on a training fold, never a test fold."""
    excluded = set(exclude)
    groups: dict[str, list[str]] = {"plain": [], "skewed": [], "low_card": [], "categorical": []}
    dropped: dict[str, str] = {}
    for name in X.columns:
        reason, group = _decide(X[name], name=str(name), protected=name in excluded)
        if reason:
            dropped[name] = reason
        else:
            groups[group].append(name)
    return ColumnPlan(**groups, dropped=dropped)


def _decide(values: pd.Series, *, name: str, protected: bool) -> tuple[str, str]:
    """(reason to drop, "") or ("", group) for one training column."""
    numeric = _is_numeric(values)
    if protected:
        return "protected", ""
    if values.isna().all():
        return "all missing", ""
    if values.nunique(dropna=True) < 2:
        return "constant", ""
    if _is_identifier(values, name=name, numeric=numeric):
        return "identifier", ""
    if numeric:
        return "", _numeric_kind(values)
    if values.nunique(dropna=True) > MAX_CATEGORIES:
        return "too many categories", ""
    return "", "categorical"


def describe_dropped(plan: ColumnPlan) -> str:
    """"name: reason, ..." for every column the plan leaves out, for an error message."""
    return ", ".join(f"{name}: {reason}" for name, reason in plan.dropped.items()) or "no columns"
