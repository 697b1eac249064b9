"""What running a week through the Prefect flow costs over calling the stages directly.

    python benchmarks/flow_overhead.py [--repeats 3]

Builds the default demo org (1,000 people, 24 months, a trained model) in a
temporary folder, then times `retention run --week W --direct` (the stages
called in order) against `retention run --week W` (the weekly-digest flow on a
temporary local Prefect API), each in a fresh process as a user runs them, on
different weeks so both do the same amount of work. Prints the median of each,
the difference and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-c", "from pipelines.cli import main; main()"]


def timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*CLI, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for key in [k for k in os.environ if k.startswith("RETENTION_")]:
        del os.environ[key]
    with tempfile.TemporaryDirectory(prefix="flow-overhead-") as tmp:
        folder = Path(tmp)
        print("building the demo org (synth, ingest, train, first week) ...", flush=True)
        demo = timed(["demo"], folder)
        direct, flow = [], []
        for i in range(args.repeats):
            direct.append(timed(["run", "--week", f"2026-W{10 + 2 * i:02d}", "--direct"], folder))
            flow.append(timed(["run", "--week", f"2026-W{11 + 2 * i:02d}"], folder))
    d, f = statistics.median(direct), statistics.median(flow)
    print(f"demo (through the flow, incl. synth, ingest, training): {demo:.1f} s")
    print(f"retention run --direct: median {d:.2f} s  {[round(x, 2) for x in direct]}")
    print(f"retention run (flow):   median {f:.2f} s  {[round(x, 2) for x in flow]}")
    print(f"flow overhead: {f - d:+.2f} s per run ({f / d:.1f}x); load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
