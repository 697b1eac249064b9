"""Fingerprint the demo's digests, to show a change left them byte for byte as they were.

    python scripts/digest_fingerprint.py --out before.json        # on the old code
    python scripts/digest_fingerprint.py --compare before.json    # on the new code: exit 1 on any difference

Makes the demo organisation with a fixed end date (1,000 people, 24 months, seed 0, data up
to Sunday 29 November 2026) in a temporary folder and runs the product's own commands on it:
`retention ingest`, `retention model train`, `retention run --week 2026-W49` (through
Prefect, as the demo does). Then hashes every digest (`.eml` and `.html`) of the week. The
only header that changes from run to run, `Date:`, is left out of the hash; everything else,
Message-ID included, must match. With `--rules`, the model is switched off and the transparent
rules score picks the people (a change to model selection then leaves the fingerprint alone).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

END = "2026-11-29"
WEEK = "2026-W49"
_DATE_HEADER = re.compile(rb"^Date: [^\r\n]*\r?\n", flags=re.MULTILINE)


def digest_hashes(folder: Path) -> dict[str, str]:
    """sha256 of each digest file of the week, its Date header left out."""
    out = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.suffix == ".eml":
            data = _DATE_HEADER.sub(b"", data, count=1)
        out[path.name] = hashlib.sha256(data).hexdigest()
    return out


def fingerprint(*, rules: bool, employees: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="digest-fingerprint-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        if rules:
            env["RETENTION_MODEL__ENABLED"] = "false"
        steps = [
            ["synth", "--employees", str(employees), "--months", "24", "--seed", "0", "--end", END, "--out", "demo-data"],
            ["ingest", "demo-data"],
            *([] if rules else [["model", "train"]]),
            ["run", "--week", WEEK],
        ]
        for step in steps:
            done = subprocess.run(["retention", *step], cwd=work, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"retention {' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
        hashes = digest_hashes(work / "outbox" / WEEK)
    whole = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return {"week": WEEK, "end": END, "employees": employees, "rules": rules, "files": len(hashes),
            "sha256": whole, "digests": hashes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the fingerprint (JSON) here")
    parser.add_argument("--compare", type=Path, help="compare with a fingerprint written earlier; exit 1 if different")
    parser.add_argument("--rules", action="store_true", help="score with the rules, not a trained model")
    parser.add_argument("--employees", type=int, default=1000)
    args = parser.parse_args(argv)
    found = fingerprint(rules=args.rules, employees=args.employees)
    print(f"{found['files']} digest files for {WEEK} ({'rules' if args.rules else 'model'}): {found['sha256']}")
    if args.out:
        args.out.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if args.compare:
        before = json.loads(args.compare.read_text(encoding="utf-8"))
        changed = sorted(
            name for name in set(before["digests"]) | set(found["digests"])  # type: ignore[arg-type]
            if before["digests"].get(name) != found["digests"].get(name)  # type: ignore[union-attr]
        )
        if changed:
            print(f"{len(changed)} digest files differ from {args.compare}: {', '.join(changed[:10])}")
            return 1
        print(f"identical to {args.compare}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
