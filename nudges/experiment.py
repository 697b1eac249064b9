"""Who is held out as a control: a stable, seeded coin per (person, kind). Pure functions.

The coin is a hash of the seed, the person and the kind, so it needs no state
and comes out the same on every machine and every run. The first time a pair
is eligible its arm is also stored; from then on the stored arm wins, so raising
or lowering the holdout share later never moves anyone from one arm to the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

NUDGED = "nudged"
CONTROL = "control"


def coin(seed: int, employee_id: str, kind: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, person, kind)."""
    digest = hashlib.sha256(f"{seed}\x1f{employee_id}\x1f{kind}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def arm_for(
    employee_id: str, kind: str, *, share: float, seed: int, stored: Mapping[tuple[str, str], str]
) -> str:
    """The pair's stored arm, else a new one: control with probability `share`."""
    known = stored.get((employee_id, kind))
    if known is not None:
        return known
    return CONTROL if share > 0 and coin(seed, employee_id, kind) < share else NUDGED
