"""Follow the README as a new user would, in an empty folder: every documented command, checked.

    python scripts/readme_walkthrough.py [--keep DIR]

Runs `retention demo` (twice: the second run must reuse what the first made), then each
command of the README's command table with the arguments a user would try, and checks its
exit code and what it prints. Commands that must refuse (a future week, an unknown id, `send`
in files mode) are checked for the refusal. SMTP delivery goes to a local aiosmtpd sink.
Every command listed in the README's table must have a step here, so a newly documented
command cannot go untried. `.ci/run` runs this after `pytest` on the clean clone.

Exits 0 when every step passed; otherwise prints each failure and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
IBM = ROOT / "benchmarks" / "data" / "ibm_hr_attrition.csv"


@dataclass
class Step:
    args: list[str]
    expect: list[str] = field(default_factory=list)  # each must appear in the output (white space folded)
    code: int = 0
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None

    def command(self, documented: set[tuple[str, ...]]) -> tuple[str, ...]:
        """The documented command this step runs (`model train`): the longest documented prefix of its args."""
        prefixes = [tuple(self.args[:n]) for n in range(len(self.args), 0, -1)]
        return next((p for p in prefixes if p in documented), tuple(self.args[:1]))


def documented_commands() -> set[tuple[str, ...]]:
    """The command words of each row of the README's command table (`opt-out add | remove | list` is three)."""
    found: set[tuple[str, ...]] = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `retention ([^`]+)` \|", line)
        if not match:
            continue
        for alternative in match.group(1).replace("\\|", "|").split("|"):
            words = []
            for word in alternative.split():
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                words.append(word)
            if words and words[0] not in ("add", "remove", "list"):
                found.add(tuple(words))
            elif words:
                found.add(("opt-out", words[0]))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(step: Step, cwd: Path, env: dict[str, str]) -> tuple[bool, str]:
    started = time.perf_counter()
    result = subprocess.run(
        ["retention", *step.args],
        cwd=cwd,
        env={**env, **step.env},
        input=step.stdin,
        capture_output=True,
        text=True,
        timeout=900,
    )
    said = " ".join((result.stdout + "\n" + result.stderr).split())
    problems = []
    if result.returncode != step.code:
        problems.append(f"exit code {result.returncode}, expected {step.code}")
    problems += [f"output lacks {text!r}" for text in step.expect if " ".join(text.split()) not in said]
    seconds = time.perf_counter() - started
    shown = "retention " + " ".join(step.args)
    print(f"{'ok  ' if not problems else 'FAIL'} {seconds:6.1f} s  {shown}", flush=True)
    if problems:
        return False, f"{shown}: {'; '.join(problems)}\n--- output ---\n{result.stdout}\n{result.stderr}"
    return True, result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="walk through in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if shutil.which("retention") is None:
        print("`retention` is not on PATH: run `pip install -e \".[dev]\"` first", file=sys.stderr)
        return 1
    work = args.keep or Path(tempfile.mkdtemp(prefix="readme-walkthrough-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env["COLUMNS"] = "200"  # tables and messages on one line each, as a wide terminal shows them

    this_week = date.today().isocalendar()
    week = f"{this_week.year}-W{this_week.week:02d}"
    last = (date.today() - timedelta(days=7)).isocalendar()
    last_week = f"{last.year}-W{last.week:02d}"
    future = (date.today() + timedelta(days=21)).isocalendar()
    future_week = f"{future.year}-W{future.week:02d}"
    port = free_port()
    smtp = {
        "RETENTION_DELIVERY__MODE": "smtp",
        "RETENTION_SMTP__HOST": "127.0.0.1",
        "RETENTION_SMTP__PORT": str(port),
        "RETENTION_SMTP__TLS": "none",
    }

    steps = [
        Step(["--help"], ["Usage: retention", "demo", "quarantine"]),
        Step(["demo"], ["Generated a synthetic org of 1,000 people", "Trained a", "Digests are in outbox/", "Done in"]),
        Step(["demo"], ["Reusing the synthetic org in demo-data/", "not retraining", "already in the outbox"]),
        Step(["synth", "--employees", "60", "--months", "3", "--seed", "7", "--out", "small"], ["oracle ROC-AUC"]),
        Step(["ingest", "demo-data"], ["Ingest", "unchanged"]),
        Step(["run", "--week", week, "--direct"], [f"Week {week}", "already in the outbox"]),
        Step(["run", "--week", future_week], ["after today", "--force"], code=1),
        Step(["preview", "--set", "nudges.per_manager=1"], ["Preview: current settings vs proposed", "Nothing was sent"]),
        Step(["preview", "--set", "nudges.per_manager=many"], ["--set: nudges.per_manager"], code=1),
        Step(["report"], [f"HR summary for {week}"]),
        Step(["report", "--week", "2001-W01"], ["has not been run", f"weeks run: {week}"], code=1),
        Step(["outbox", "status"], ["written"]),
        Step(["outbox", "retry", "--failed"], ["0 failed digests queued again"]),
        Step(["send"], ['needs [delivery] mode = "smtp"'], code=1),
        Step(["run", "--week", last_week, "--direct"], ["Sent over SMTP"], env=smtp),
        Step(["send"], ["Nothing to send"], env=smtp),
        Step(["quarantine", "--limit", "3"], ["Quarantine:", "rows"]),
        Step(["quarantine", "--reason", "not a date", "--csv", "quarantine.csv"], ["written to quarantine.csv"]),
        Step(["model", "card"], ["Model card", "estimator"]),
        Step(["model", "card", "--json"], ['"estimator"']),
        Step(["model", "train"], ["Saved to model/"]),
        Step(["model", "benchmark", str(IBM), "--label", "Attrition", "--positive", "Yes", "--folds", "3"], ["selected"]),
        Step(["config", "show"], ["[store]", "path = "]),
        Step(["config", "show"], ["RETENTION_NUDGES__PER_MANAGER"], code=1, env={"RETENTION_NUDGE__PER_MANAGER": "2"}),
        Step(["explain", "E000001", "--html", "e1.html", "--actor", "walkthrough"], ["What retention-nudges holds"]),
        Step(["forget", "NOPE123", "--yes"], ["holds nothing about employee id 'NOPE123'"], code=1),
        Step(["opt-out", "add", "E99999"], ["not on the roster"], code=1),
        Step(["opt-out", "add", "E000002"], ["1 opted out"]),
        Step(["opt-out", "list"], ["1 person opted out", "E000002"]),
        Step(["opt-out", "remove", "E000002"], ["1 opted back in"]),
        Step(["forget", "E000003"], ["would", "Aborted"], code=1, stdin="n\n"),
        Step(["forget", "E000003", "--yes"], ["Done", "rows deleted"]),
    ]
    documented = documented_commands()
    missing = sorted(documented - {s.command(documented) for s in steps})
    if missing:
        print("The README documents commands this walkthrough never tries: " + ", ".join(" ".join(m) for m in missing))
        return 1

    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    failures: list[str] = []
    started = time.perf_counter()
    try:
        for step in steps:
            ok, detail = run(step, work, env)
            if not ok:
                failures.append(detail)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    card = json.loads((work / "model" / "card.json").read_text()) if (work / "model" / "card.json").is_file() else {}
    print(f"{len(steps) - len(failures)} of {len(steps)} steps passed in {time.perf_counter() - started:.0f} s"
          f" (model {card.get('estimator', 'none')}) in {work}")
    for failure in failures:
        print("\n" + failure, file=sys.stderr)
    if not args.keep and not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
