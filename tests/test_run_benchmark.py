"""benchmarks/run.py on a small org: every stage timed, every limit measured, every digest delivered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

STAGES = {"ingest", "purge", "followthrough", "features", "score", "select", "render", "enqueue", "deliver", "report"}


def test_the_run_benchmark_times_every_stage_and_its_limit(tmp_path):
    out = tmp_path / "run.json"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--employees", "500", "--months", "12",
         "--score", "rules", "--workdir", str(tmp_path / "work"), "--json", str(out)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    results = json.loads(out.read_text())
    assert set(results["stages"]) == STAGES
    assert all(results["stages"][s]["seconds"] >= 0 and results["stages"][s]["peak_rss_mb"] > 0 for s in STAGES)
    limits = {stage for stage, limit in results["limits"].items() if limit is not None}
    assert {"ingest", "features", "render", "enqueue", "deliver"} <= limits
    facts = results["facts"]
    assert facts["people"] > 400 and facts["digests"] > 0
    assert facts["sink_received"] == facts["digests"] == facts["delivery"]["sent"]
