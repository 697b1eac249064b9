"""The uplift estimator recovers a known truth: 26 simulated weeks of nudging a synthetic org.

The generator's org and hazards, the product's own control coin, assignments,
follow-through check and counts; only the managers and the leavers are simulated
(pipelines/synth/experiment.py), with a known follow-through probability and a
known effect of a followed-through nudge on the hazard.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.store import open_store
from pipelines.synth.experiment import (
    ExperimentResult,
    ExperimentSpec,
    monthly_hazards,
    simulate,
)
from pipelines.synthetic import SynthSpec, generate
from pipelines.weeks import IsoWeek

END = date(2026, 1, 4)
EFFECT = 0.5


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2,000-person synthetic org, ingested once; each simulation works on a copy."""
    folder = tmp_path_factory.mktemp("experiment")
    generate(SynthSpec(employees=2000, months=12, seed=1, end=END, bad_row_share=0.0, nudge_effect=EFFECT), folder / "drop")
    with open_store(folder / "org.duckdb") as conn:
        ingest_folder(conn, folder / "drop", IngestOptions(today=END))
    return folder


def run(org: Path, tmp_path: Path, seed: int) -> ExperimentResult:
    store = tmp_path / f"sim-{seed}.duckdb"
    shutil.copy(org / "org.duckdb", store)
    with open_store(store) as conn:
        return simulate(
            conn,
            ExperimentSpec(seed=seed, nudge_effect=EFFECT),
            monthly_hazards(org / "drop" / "_truth"),
            IsoWeek.containing(END).shift(1),
        )


def test_the_reported_recovery_uplift_covers_the_truth_and_is_clearly_above_zero(org: Path, tmp_path: Path) -> None:
    result = run(org, tmp_path, seed=1)
    assert result.true_recovery_uplift == pytest.approx(0.6 * 0.75)
    assert set(result.recovery) == {"one_on_one_lapse", "career_conversation", "stale_goals"}
    for kind, diff in result.recovery.items():
        assert diff.low is not None and diff.high is not None
        assert diff.low <= result.true_recovery_uplift <= diff.high, kind
        assert diff.low > 0 and diff.enough, kind


def test_the_exit_difference_covers_the_truth_and_says_it_needs_more_weeks(org: Path, tmp_path: Path) -> None:
    result = run(org, tmp_path, seed=1)
    for kind, diff in result.exits.items():
        truth = result.true_exit_difference[kind]
        assert truth < 0  # followed-through nudges lower the hazard
        assert diff.low is not None and diff.high is not None
        assert diff.low <= truth <= diff.high, kind
        # Exits are rare: half a year of a 2,000-person org cannot pin a 1-point difference down.
        assert not diff.enough and diff.weeks_needed is not None and diff.weeks_needed > 0, kind


def test_the_intervals_cover_the_truth_about_as_often_as_they_claim(org: Path, tmp_path: Path) -> None:
    covered = total = 0
    for seed in range(2, 8):
        result = run(org, tmp_path, seed)
        for kind, diff in result.recovery.items():
            assert diff.low is not None and diff.high is not None
            covered += diff.low <= result.true_recovery_uplift <= diff.high
            total += 1
            exit_diff, truth = result.exits[kind], result.true_exit_difference[kind]
            assert exit_diff.low is not None and exit_diff.high is not None
            covered += exit_diff.low <= truth <= exit_diff.high
            total += 1
    # 36 nominal-95% intervals: 31 or fewer covering would happen by chance about 3% of the time.
    assert covered / total >= 32 / 36, f"{covered} of {total}"
