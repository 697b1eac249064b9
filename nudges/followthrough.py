"""Follow-through in words and numbers: the manager's credit line, rates for HR, demotion. Pure functions.

Outcomes are decided in the store (pipelines/followthrough.py): for each nudge,
did the signal it asked for appear within the follow-through window? Here they
become one sentence of credit for the manager, rates by kind and department
for HR (groups under the minimum size withheld), and the catalog's decision to
rank a kind last when its nudges keep not landing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nudges.catalog import NudgeKind

DONE = "done"
NOT_YET = "not_yet"
EXPIRED = "expired"
OUTCOMES = (DONE, NOT_YET, EXPIRED)


@dataclass(frozen=True)
class Resolved:
    """One manager's nudges of one kind whose outcome is now known, not yet credited."""

    kind: str
    done: int
    total: int


def who(done: int, total: int) -> str:
    if total == 1:
        return "the person"
    if done == total:
        return "both people" if total == 2 else f"all {total} people"
    return f"{done} of the {total} people"


def credit_line(resolved: Iterable[Resolved], kinds: Mapping[str, NudgeKind]) -> str | None:
    """One honest sentence for the kind the manager followed through on most; None if nothing to credit.

    Kinds without a credit sentence (survey-based ones) are never mentioned.
    """
    creditable = [r for r in resolved if r.done > 0 and r.kind in kinds and kinds[r.kind].credit]
    if not creditable:
        return None
    order = {kind: i for i, kind in enumerate(kinds)}
    best = min(creditable, key=lambda r: (-r.done, -(r.done / r.total), order.get(r.kind, 0)))
    text = kinds[best.kind].credit
    assert text is not None
    return text.format(who=who(best.done, best.total))


@dataclass(frozen=True)
class RateRow:
    label: str
    done: int
    resolved: int  # done + expired: outcomes that are final
    pending: int  # not yet

    @property
    def rate(self) -> float | None:
        return self.done / self.resolved if self.resolved else None


def rate_rows(counts: Mapping[str, tuple[int, int, int]], *, min_group_size: int, other: str) -> list[RateRow]:
    """Rows of (done, resolved, pending) by label; labels with fewer than `min_group_size` final outcomes
    are pooled into `other`, and `other` itself is dropped when still too small."""
    shown: list[RateRow] = []
    pooled = [0, 0, 0]
    for label in sorted(counts):
        done, resolved, pending = counts[label]
        if resolved >= min_group_size:
            shown.append(RateRow(label, done, resolved, pending))
        else:
            pooled[0] += done
            pooled[1] += resolved
            pooled[2] += pending
    if pooled[1] >= min_group_size:
        shown.append(RateRow(other, *pooled))
    return shown


@dataclass(frozen=True)
class Demotion:
    kind: str
    action: str  # demoted | restored
    rate: float | None
    resolved: int
    floor: float | None


def demotions(
    rates: Mapping[str, tuple[int, int]],
    currently_demoted: Iterable[str],
    *,
    floor: float | None,
    min_resolved: int,
) -> list[Demotion]:
    """Kinds to demote (rate below the floor over at least `min_resolved` final outcomes) or restore.

    `rates` is kind -> (done, resolved) over the recent window. With no floor
    (the default) nothing is demoted and any earlier demotion is lifted.
    """
    demoted = set(currently_demoted)
    changes: list[Demotion] = []
    for kind in sorted(set(rates) | demoted):
        done, resolved = rates.get(kind, (0, 0))
        rate = done / resolved if resolved else None
        low = floor is not None and rate is not None and resolved >= min_resolved and rate < floor
        if low and kind not in demoted:
            changes.append(Demotion(kind, "demoted", rate, resolved, floor))
        elif kind in demoted and (floor is None or (rate is not None and resolved >= min_resolved and rate >= floor)):
            changes.append(Demotion(kind, "restored", rate, resolved, floor))
    return changes


def apply(demoted: Iterable[str], changes: Sequence[Demotion]) -> frozenset[str]:
    now = set(demoted)
    for change in changes:
        (now.add if change.action == "demoted" else now.discard)(change.kind)
    return frozenset(now)
