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
from nudges.catalog import SEVERAL, NudgeKind
from nudges.experiment import CONTROL, NUDGED

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}

# Feature values the evidence sentences need, copied onto each pick. Survey
# levels are deliberately absent: evidence never quotes what a person answered.
EVIDENCE_FIELDS = (
    "days_since_recognition",
    "ever_recognised",
    "recognition_90d",
    "givers_90d",
    "one_on_ones_last4",
    "one_on_ones_missed_last4",
    "one_on_ones_held_90d",
    "days_since_career_talk",
    "ever_career_talk",
    "days_since_goals_talk",
    "ever_goals_talk",
    "days_since_learning",
    "learning_180d",
)
# The signal an engagement-plan trigger tests: how many other kinds fired for the person.
KINDS_FIRED = "kinds_fired"


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
    # Other kinds whose triggers fired for this person, strongest first (the plan's evidence).
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """Why a star was or was not in a digest this week: stored so HR can audit every choice."""

    employee_id: str
    kind: str | None
    outcome: str  # included | skipped | control
    reason: str
    recipient_id: str | None = None
    skip_level: bool = False


@dataclass
class Selection:
    picks: list[Pick] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    # (person, kind) withheld this week as the experiment's control group
    controls: list[tuple[str, str]] = field(default_factory=list)

    def assignments(self) -> list[tuple[str, str, str]]:
        """(person, kind, arm) for every nudge sent or withheld this week."""
        sent = [(p.employee_id, p.kind, NUDGED) for p in self.picks]
        return sent + [(e, k, CONTROL) for e, k in self.controls]

    def by_recipient(self) -> dict[str, list[Pick]]:
        grouped: dict[str, list[Pick]] = defaultdict(list)
        for pick in self.picks:
            grouped[pick.recipient_id].append(pick)
        return dict(grouped)


# What a trigger may test: only what a manager can change this week. Pay, tenure,
# rating, promotions, location, age or team figures are never a nudge's reason,
# even when the model weighs them.
ACTIONABLE_SIGNALS: frozenset[str] = frozenset(
    {
        "days_since_recognition",
        "ever_recognised",
        "recognition_30d",
        "recognition_90d",
        "recognition_180d",
        "recognition_trend",
        "givers_90d",
        "one_on_ones_scheduled_90d",
        "one_on_ones_held_90d",
        "one_on_ones_missed_90d",
        "one_on_ones_missed_last4",
        "one_on_ones_last4",
        "days_since_one_on_one",
        "days_since_career_talk",
        "ever_career_talk",
        "days_since_goals_talk",
        "ever_goals_talk",
        "autonomy_latest",
        "autonomy_change",
        "voice_latest",
        "voice_change",
        "growth_latest",
        "learning_180d",
        "days_since_learning",
    }
)


def signals(features: Features) -> dict[str, np.ndarray]:
    """What triggers can test: the actionable features, and each rules gap as gap_<signal>."""
    values = {
        name: features.numeric(name)
        for name, column in features.columns.items()
        if name in ACTIONABLE_SIGNALS and column.dtype.kind in "biuf"
    }
    for name, gap in signal_gaps(features).items():
        values[f"gap_{name}"] = gap
    return values


def fire(kinds: Sequence[NudgeKind], values: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Per kind, who its trigger fires for. Engagement plans count the other kinds that fired.

    A missing value never fires a condition (NaN compares false).
    """
    known = set(values) | {KINDS_FIRED}
    missing = sorted({c.signal for k in kinds for c in k.conditions if c.signal not in known})
    if missing:
        raise ValueError(
            f"catalog triggers use signals that are unknown or not something a manager can change this week:"
            f" {', '.join(missing)} (allowed: {', '.join(sorted(known))})"
        )

    def holds(kind: NudgeKind, signals: Mapping[str, np.ndarray]) -> np.ndarray:
        result = np.ones(n, dtype=bool)
        for c in kind.conditions:
            result &= _OPS[c.op](signals[c.signal], c.value)
        return result

    uses_count = [k for k in kinds if any(c.signal == KINDS_FIRED for c in k.conditions)]
    fired = {k.id: holds(k, values) for k in kinds if k not in uses_count}
    if uses_count:
        count = np.sum(np.vstack(list(fired.values())), axis=0) if fired else np.zeros(n)
        with_count = {**values, KINDS_FIRED: count.astype(np.float64)}
        fired.update({k.id: holds(k, with_count) for k in uses_count})
    return fired


def expected_reduction(
    kind: NudgeKind, kinds: Sequence[NudgeKind], fired: Mapping[str, np.ndarray], scores: Scores, i: int
) -> float:
    """How much restoring this kind's signal would lower the person's risk (0 where unknown)."""
    if kind.driver == SEVERAL:
        drivers = {k.driver for k in kinds if k.driver != SEVERAL and fired[k.id][i]}
        return float(sum(scores.drivers[d][i] for d in drivers if d in scores.drivers))
    driver = scores.drivers.get(kind.driver)
    return float(driver[i]) if driver is not None else 0.0


def others_fired(
    chosen: NudgeKind, kinds: Sequence[NudgeKind], fired: Mapping[str, np.ndarray], scores: Scores, i: int
) -> tuple[str, ...]:
    """The other single-signal kinds that fired, the biggest expected reduction first."""
    others = [k for k in kinds if k.id != chosen.id and k.driver != SEVERAL and fired[k.id][i]]
    others.sort(key=lambda k: -expected_reduction(k, kinds, fired, scores, i))
    return tuple(k.id for k in others)


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
    previous_managers: Mapping[str, str | None] | None = None,
    arm_of: Callable[[str, str], str] | None = None,
    demoted: frozenset[str] = frozenset(),
) -> Selection:
    """This week's picks and the reason behind every star considered.

    `previous_managers` is each person's manager as recorded at the last run
    before this week: someone whose manager changed since is left out this
    week, because the new manager does not know them yet. `arm_of(person, kind)`
    says whether a nudge that would be sent is withheld as a control instead
    (it then takes no place in the manager's digest). Kinds in `demoted` are
    chosen only when no other kind fits the person.
    """
    last_sent = last_sent or {}
    previous_managers = previous_managers or {}
    selection = Selection()
    ids = features["employee_id"]
    status = features["status"]
    rating = np.nan_to_num(features.numeric("rating_latest"), nan=0.0)
    values = signals(features)
    fired = fire(kinds, values, len(ids))
    above = scores.risk >= policy.threshold
    for below in np.flatnonzero(stars & ~above):
        selection.decisions.append(Decision(str(ids[below]), None, "skipped", "below the risk threshold"))
    candidates: dict[str, list[Pick]] = defaultdict(list)
    for i in map(int, np.flatnonzero(stars & above)):
        employee = str(ids[i])
        if status[i] != "active":
            selection.decisions.append(Decision(employee, None, "skipped", f"status is {status[i]}"))
            continue
        if employee in previous_managers and previous_managers[employee] != people.get(employee, _GONE).manager_id:
            selection.decisions.append(Decision(employee, None, "skipped", "their manager changed this week"))
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
            reduction = expected_reduction(kind, kinds, fired, scores, i)
            if best is None or (kind.id not in demoted, reduction) > (best[1].id not in demoted, best[0]):
                best = (reduction, kind)
        if best is None:
            reason = f"cooldown ({', '.join(cooling)})" if cooling else "no trigger fired"
            selection.decisions.append(Decision(employee, None, "skipped", reason))
            continue
        recipient, skip_level = route(employee, people)
        if recipient is None:
            selection.decisions.append(Decision(employee, best[1].id, "skipped", "no active manager or skip-level"))
            continue
        if arm_of is not None and arm_of(employee, best[1].id) == CONTROL:
            selection.controls.append((employee, best[1].id))
            selection.decisions.append(
                Decision(employee, best[1].id, "control", "held out as a control (experiment)", recipient, skip_level)
            )
            continue
        risk = float(scores.risk[i])
        priority = risk * (0.5 + 0.5 * min(rating[i] / policy.rating_max, 1.0))
        evidence = {name: float(values[name][i]) for name in EVIDENCE_FIELDS if name in values}
        also = others_fired(best[1], kinds, fired, scores, i)
        candidates[recipient].append(Pick(employee, recipient, best[1].id, skip_level, priority, risk, evidence, also))
    for recipient in sorted(candidates):
        ranked = sorted(candidates[recipient], key=lambda p: (-p.priority, p.employee_id))
        for n, pick in enumerate(ranked):
            if n < policy.per_manager:
                selection.picks.append(pick)
                outcome, reason = "included", "top priority for this manager"
            else:
                outcome, reason = "skipped", f"manager already has {policy.per_manager} nudges"
            selection.decisions.append(
                Decision(pick.employee_id, pick.kind, outcome, reason, pick.recipient_id, pick.skip_level)
            )
    return selection
