"""Write tests/data/essay_shingles.txt: a hash of every run of eight words in the leadership essays.

The catalog test checks that no eight-word run of a nudge's wording appears in the essays
the product is built on (paraphrase, never copy). The essays are not ours to ship, so the
test reads these hashes instead: re-run this when the essays change.

    python scripts/essay_fingerprint.py ../shared/seeds
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

RUN = 8
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "essay_shingles.txt"


def words(text: str) -> list[str]:
    """Lower-case words, punctuation ignored, so a copied run cannot hide behind a comma."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("{first_name}", "x")
    return re.sub(r"[^a-z0-9':]+", " ", text).split()


def shingle(run: list[str]) -> str:
    return hashlib.sha256(" ".join(run).encode("utf-8")).hexdigest()[:20]


def shingles(text: str) -> set[str]:
    w = words(text)
    return {shingle(w[i : i + RUN]) for i in range(max(0, len(w) - RUN + 1))}


def main(folder: str) -> None:
    essays = " ".join(p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("*.txt")))
    if not essays.strip():
        raise SystemExit(f"no essays (*.txt) in {folder}")
    found = sorted(shingles(essays))
    OUT.write_text("\n".join(found) + "\n", encoding="ascii")
    print(f"{len(found):,} runs of {RUN} words written to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/seeds")
