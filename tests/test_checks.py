"""Warnings about a table that would make cross-validated scores look better than they are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.checks import data_warnings, duplicate_rows


def clean_table(n: int = 400, *, leavers: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct people, a few-valued team and a year whose leaver shares all stay well under 95%."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "pay": rng.normal(3000, 500, n).round(2),
            "team": rng.choice(["a", "b", "c", "d"], n),
            "year": rng.choice([2019.0, 2020.0, 2021.0], n),
        }
    )
    return X, (rng.random(n) < leavers).astype(np.int64)


def kinds(X: pd.DataFrame, y: np.ndarray) -> list[str]:
    return [w.kind for w in data_warnings(X, y)]


def test_a_clean_table_has_no_warnings() -> None:
    assert data_warnings(*clean_table()) == []


def test_exact_duplicate_rows_above_one_percent_are_counted_and_reported() -> None:
    X, y = clean_table()
    copies = 5  # 5 of 405 rows: 1.2%
    X, y = pd.concat([X, X.head(copies)], ignore_index=True), np.r_[y, y[:copies]]
    (warning,) = data_warnings(X, y)
    assert (warning.kind, warning.rows) == ("duplicates", 5)
    assert warning.message.startswith("5 of 405 rows (1.2%) repeat an earlier row exactly")
    assert "(--group)" in warning.message and "(--group)" not in data_warnings(X, y, grouped=True)[0].message


def test_duplicates_at_one_percent_or_with_another_label_are_not_reported() -> None:
    X, y = clean_table()
    at_one_percent = pd.concat([X, X.head(4)], ignore_index=True), np.r_[y, y[:4]]  # 4 of 404
    assert duplicate_rows(*at_one_percent) == 4 and kinds(*at_one_percent) == []
    relabelled = pd.concat([X, X.head(10)], ignore_index=True), np.r_[y, 1 - y[:10]]
    assert duplicate_rows(*relabelled) == 0


def test_a_value_held_almost_only_by_leavers_over_fifty_rows_is_a_likely_leak() -> None:
    X, y = clean_table()
    X.loc[:59, "year"] = 2022.0
    y[:60] = 1
    y[0] = 0  # 59 of 60 leavers: 98.3%
    (warning,) = data_warnings(X, y)
    assert (warning.kind, warning.column, warning.rows) == ("leak", "year", 60)
    assert warning.message.startswith("year = 2022: 59 of 60 rows (98.3%) are leavers, a likely leak")


def test_missing_values_that_only_leavers_have_are_a_likely_leak_too() -> None:
    X, y = clean_table()
    X["exit_interview"] = np.where(np.arange(len(y)) < 80, np.nan, 3.0)
    y[:80] = 1
    (warning,) = data_warnings(X, y)
    assert warning.column == "exit_interview" and "(missing)" in warning.message


def test_no_leak_is_reported_under_fifty_rows_or_at_ninety_five_percent() -> None:
    X, y = clean_table()
    X.loc[:48, "year"] = 2022.0  # 49 rows, all leavers
    y[:49] = 1
    assert kinds(X, y) == []
    X, y = clean_table()
    X.loc[:59, "year"] = 2022.0  # 57 of 60: exactly 95%
    y[:60] = 1
    y[:3] = 0
    assert kinds(X, y) == []


def test_fewer_than_three_percent_leavers_is_reported() -> None:
    X, y = clean_table(leavers=0.0)
    y[:11] = 1  # 2.75%
    (warning,) = data_warnings(X, y)
    assert (warning.kind, warning.rows) == ("label_share", 11)
    assert warning.message.startswith("only 2.8% of rows are leavers (11 of 400)")
    y[:12] = 1  # 3%
    assert kinds(X, y) == []


def test_almost_only_leavers_asks_whether_the_positive_value_is_right() -> None:
    X, y = clean_table(leavers=1.0)
    y[:5] = 0
    assert [w.kind for w in data_warnings(X, y)] == ["label_share"]
    assert "check that the positive value" in data_warnings(X, y)[0].message
