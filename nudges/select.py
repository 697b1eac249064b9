"""Choose this week's nudges: which stars, which kind, which manager. Pure functions.

Stars at or above the risk threshold get candidate kinds from the triggers that
fire; each person gets the one kind whose driver would lower their risk most;
each manager gets at most `per_manager` people, highest priority (risk weighted
by how regrettable the loss would be) first. Every decision is returned so it
can be stored and audited.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from models.features import Features
from models.rules import signal_gaps
from models.score import Scores
from nudges.catalog import NudgeKind

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}

# Feature values the evidence sentences need, copied onto each pick.
EVIDENCE_FIELDS = (
    "days_since_recognition",
    "ever_recognised",
    "one_on_ones_last4",
    "one_on_ones_missed_last4",
    "one_on_ones_held_90d",
    "days_since_career_talk",
    "ever_career_talk",
)


@dataclass(frozen=True)
class SelectionPolicy:
    threshold: float
    per_manager: int
    rating_max: float = 5.0


@dataclass(frozen=True)
class Person:
    manager_id: str | None
    status: str  # active | leave | left


@dataclass(frozen=True)
class Pick:
    employee_id: str
    recipient_id: str
    kind: str
    skip_level: bool
    priority: float
    risk: float
    evidence: dict[str, float]


@dataclass(frozen=True)
class Decision:
    employee_id: str
    kind: str | None
    outcome: str  # included | skipped
    reason: str


@dataclass
class Selection:
    picks: list[Pick] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def by_recipient(self) -> dict[str, list[Pick]]:
        grouped: dict[str, list[Pick]] = defaultdict(list)
        for pick in self.picks:
            grouped[pick.recipient_id].append(pick)
        return dict(grouped)


def signals(features: Features) -> dict[str, np.ndarray]:
    """What triggers can test: every numeric feature, and each driver's gap as gap_<driver>."""
    values = {
        name: features.numeric(name)
        for name, column in features.columns.items()
        if column.dtype.kind in "biuf"  # numbers and flags; ids, text and timestamps are not signals
    }
    for name, gap in signal_gaps(features).items():
        values[f"gap_{name}"] = gap
    return values


_GONE = Person(manager_id=None, status="left")


def route(employee_id: str, people: Mapping[str, Person]) -> tuple[str | None, bool]:
    """Who should hear about this person, and whether that is the skip-level manager.

    A manager who left, is on leave or is missing from the roster hands over to
    their own manager; a person listed as their own manager has nobody to route to.
    """

    def can_receive(manager: str | None) -> bool:
        return manager is not None and manager != employee_id and people.get(manager, _GONE).status == "active"

    manager = people.get(employee_id, _GONE).manager_id
    if can_receive(manager):
        return manager, False
    if manager is None or manager == employee_id:
        return None, False
    skip = people.get(manager, _GONE).manager_id
    if skip != manager and can_receive(skip):
        return skip, True
    return None, False


def select(
    features: Features,
    scores: Scores,
    stars: np.ndarray,
    kinds: Sequence[NudgeKind],
    people: Mapping[str, Person],
    policy: SelectionPolicy,
    *,
    today: date,
    last_sent: Mapping[tuple[str, str], date] | None = None,
) -> Selection:
    """This week's picks and the reason behind every person considered."""
    last_sent = last_sent or {}
    selection = Selection()
    ids = features["employee_id"]
    status = features["status"]
    rating = np.nan_to_num(features.numeric("rating_latest"), nan=0.0)
    values = signals(features)
    missing = sorted({k.trigger.signal for k in kinds if k.trigger.signal not in values})
    if missing:
        raise ValueError(f"catalog triggers use unknown signals: {', '.join(missing)}")
    # A missing value never fires a trigger (NaN compares false).
    fired = {k.id: _OPS[k.trigger.op](values[k.trigger.signal], k.trigger.value) for k in kinds}
    eligible = np.flatnonzero(stars & (scores.risk >= policy.threshold))
    candidates: dict[str, list[Pick]] = defaultdict(list)
    for i in eligible:
        employee = str(ids[i])
        if status[i] != "active":
            selection.decisions.append(Decision(employee, None, "skipped", f"status is {status[i]}"))
            continue
        best: tuple[float, NudgeKind] | None = None
        cooling = []
        for kind in kinds:
            if not fired[kind.id][i]:
                continue
            sent = last_sent.get((employee, kind.id))
            if sent is not None and (today - sent).days < kind.cooldown_days:
                cooling.append(kind.id)
                continue
            reduction = float(scores.drivers.get(kind.driver, np.zeros(len(ids)))[i])
            if best is None or reduction > best[0]:
                best = (reduction, kind)
        if best is None:
            reason = f"cooldown ({', '.join(cooling)})" if cooling else "no trigger fired"
            selection.decisions.append(Decision(employee, None, "skipped", reason))
            continue
        recipient, skip_level = route(employee, people)
        if recipient is None:
            selection.decisions.append(Decision(employee, best[1].id, "skipped", "no active manager or skip-level"))
            continue
        risk = float(scores.risk[i])
        priority = risk * (0.5 + 0.5 * min(rating[i] / policy.rating_max, 1.0))
        evidence = {name: float(values[name][i]) for name in EVIDENCE_FIELDS if name in values}
        candidates[recipient].append(Pick(employee, recipient, best[1].id, skip_level, priority, risk, evidence))
    for recipient in sorted(candidates):
        ranked = sorted(candidates[recipient], key=lambda p: (-p.priority, p.employee_id))
        for n, pick in enumerate(ranked):
            if n < policy.per_manager:
                selection.picks.append(pick)
                selection.decisions.append(Decision(pick.employee_id, pick.kind, "included", "top priority for this manager"))
            else:
                selection.decisions.append(
                    Decision(pick.employee_id, pick.kind, "skipped", f"manager already has {policy.per_manager} nudges")
                )
    return selection
