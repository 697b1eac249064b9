"""Differences of rates with Newcombe intervals: published values, coverage, and "not enough data yet"."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudges.uplift import Rate, difference, newcombe, wilson


def test_newcombe_matches_the_published_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10.
    d, low, high = newcombe(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    d, low, high = newcombe(9, 10, 3, 10)
    assert (round(low, 4), round(high, 4)) == (0.1705, 0.8090)


def test_wilson_matches_a_published_interval() -> None:
    # Newcombe (1998) Table I: 81 of 263 gives 0.2553 to 0.3662 by the Wilson score method.
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


@given(
    n1=st.integers(1, 400), n2=st.integers(1, 400), f1=st.floats(0, 1), f2=st.floats(0, 1)
)
def test_the_interval_holds_the_estimate_and_stays_inside_minus_one_to_one(n1: int, n2: int, f1: float, f2: float) -> None:
    k1, k2 = round(f1 * n1), round(f2 * n2)
    d, low, high = newcombe(k1, n1, k2, n2)
    assert -1.0 <= low <= d <= high <= 1.0


def test_the_interval_covers_the_true_difference_about_95_times_in_100() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    trials = 2000
    for _ in range(trials):
        n1, n2 = int(rng.integers(20, 200)), int(rng.integers(20, 200))
        p1, p2 = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6)
        _, low, high = newcombe(int(rng.binomial(n1, p1)), n1, int(rng.binomial(n2, p2)), n2)
        covered += low <= p1 - p2 <= high
    assert 0.93 <= covered / trials <= 0.975


def test_a_wide_interval_says_not_enough_data_and_how_many_weeks_to_wait() -> None:
    result = difference(Rate(6, 20), Rate(2, 10), max_half_width=0.10, weeks_so_far=4)
    assert not result.enough
    assert result.weeks_needed is not None and result.weeks_needed > 4
    assert result.low is not None and result.high is not None and (result.high - result.low) / 2 > 0.10


def test_a_narrow_interval_is_enough_and_needs_no_wait() -> None:
    result = difference(Rate(600, 2000), Rate(100, 1000), max_half_width=0.10, weeks_so_far=10)
    assert result.enough and result.weeks_needed is None
    assert result.estimate == pytest.approx(0.2)


def test_an_empty_group_has_no_estimate() -> None:
    result = difference(Rate(5, 10), Rate(0, 0), max_half_width=0.10, weeks_so_far=3)
    assert result.estimate is None and not result.enough
    assert result.weeks_needed is None  # the control group has not grown at all: no pace to project


def test_the_wait_shrinks_as_data_accrues() -> None:
    early = difference(Rate(10, 40), Rate(3, 10), max_half_width=0.10, weeks_so_far=4)
    later = difference(Rate(30, 120), Rate(9, 30), max_half_width=0.10, weeks_so_far=12)
    assert early.weeks_needed is not None and later.weeks_needed is not None
    assert later.weeks_needed < early.weeks_needed
