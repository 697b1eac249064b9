"""What-if for HR: the same week under the current config and under proposed changes.

Both plans come from `weekly.plan_week` on a read-only store, so a preview can
never send, queue or record anything. The comparison itself is a pure function
over the two selections and reports ids and counts only.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError
from nudges.select import Selection


@dataclass(frozen=True)
class Side:
    """One plan reduced to what HR compares."""

    managers: frozenset[str]
    included: dict[str, str]  # employee id -> kind
    by_kind: dict[str, int]
    threshold: float
    method: str

    @property
    def nudges(self) -> int:
        return len(self.included)


@dataclass(frozen=True)
class Comparison:
    current: Side
    proposed: Side
    newly_included: list[str] = field(default_factory=list)  # employee ids, sorted
    dropped: list[str] = field(default_factory=list)
    kind_changed: list[str] = field(default_factory=list)  # included in both, different kind
    managers_added: list[str] = field(default_factory=list)
    managers_removed: list[str] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return sorted(set(self.current.by_kind) | set(self.proposed.by_kind))


def side(selection: Selection, *, threshold: float, method: str) -> Side:
    included = {p.employee_id: p.kind for p in selection.picks}
    return Side(
        managers=frozenset(p.recipient_id for p in selection.picks),
        included=included,
        by_kind=dict(Counter(included.values())),
        threshold=threshold,
        method=method,
    )


def compare(current: Side, proposed: Side) -> Comparison:
    """Who and what would change; ids only, so the result is safe to print for HR."""
    before, after = set(current.included), set(proposed.included)
    both = before & after
    return Comparison(
        current=current,
        proposed=proposed,
        newly_included=sorted(after - before),
        dropped=sorted(before - after),
        kind_changed=sorted(e for e in both if current.included[e] != proposed.included[e]),
        managers_added=sorted(proposed.managers - current.managers),
        managers_removed=sorted(current.managers - proposed.managers),
    )


def parse_sets(pairs: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs from the command line; values are read as TOML when they parse, else as text.

    So `nudges.per_manager=5` is a number, `nudges.disabled_kinds=["give_credit"]` a list and
    `nudges.display=band` the text "band".
    """
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {pair!r}: expected SECTION.KEY=VALUE, e.g. nudges.per_manager=5")
        raw = raw.strip()
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        overrides[key] = value
    return overrides


def changed_keys(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in overrides.items())
