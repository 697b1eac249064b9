"""Put an observed pattern into plain words a manager can check for themselves.

Only patterns a manager could see in their own calendar or channels: never a
score, a survey answer or anything a person wrote. Each phrase is short, has no
trailing period (the template capitalises it and adds one) and uses only the
numbers in `nudges.select.EVIDENCE_FIELDS`. Values may be NaN or missing: a
phrase then says less, it never fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# The autonomy and voice kinds rest on how a person sees their own room to act
# and to be heard. The manager gets a fixed pattern phrase: no number, no level,
# no change, nothing that could be traced back to what anyone answered.
AUTONOMY_PATTERN = "signs of limited room to make their own calls on how they work"
VOICE_PATTERN = "signs that their view is not often part of decisions about their work"

# How many observations an engagement plan's evidence lists at most.
PLAN_MAX = 3


def _span(days: float) -> str:
    days = max(int(days), 0)
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    if days < 120:
        return f"{days // 7} weeks"
    return f"{round(days / 30.44)} months"


def _ago(days: float) -> str:
    return "today" if days < 1 else f"{_span(days)} ago"


def _number(values: Mapping[str, float], key: str) -> float | None:
    """The value as a float, or None when it is missing, NaN or not a number."""
    value = values.get(key)
    if value is None or isinstance(value, str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _count(values: Mapping[str, float], key: str) -> int | None:
    number = _number(values, key)
    return None if number is None else max(int(number), 0)


def _flag(values: Mapping[str, float], key: str) -> bool:
    number = _number(values, key)
    return bool(number) if number is not None else False


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _since(values: Mapping[str, float], days_key: str, ever_key: str, last: str, never: str, unknown: str) -> str:
    """'<last> N weeks ago' when it happened, '<never> N months' when not since records began."""
    days = _number(values, days_key)
    if days is None:
        return unknown
    if _flag(values, ever_key):
        return f"{last} {_ago(days)}"
    return f"{never} {_span(max(days, 1))}"


def _recognition(values: Mapping[str, float]) -> str:
    return _since(
        values,
        "days_since_recognition",
        "ever_recognised",
        "last recognised",
        "no recognition on record in the last",
        "no recent recognition on record",
    )


def _credit(values: Mapping[str, float]) -> str:
    times, givers = _count(values, "recognition_90d"), _count(values, "givers_90d")
    if times == 0 or (times is None and givers == 0):
        return "no recognition in the last 90 days"
    if givers is None:
        if times is None:
            return "recent recognition has come from a small circle"
        return f"recognised {_times(times)} in the last 90 days"
    if givers <= 1:
        if times is not None and times >= 2:
            return f"recognised {times} times in the last 90 days, all by the same person"
        return "recognised by one person in the last 90 days"
    if times is None:
        return f"recognised by {givers} people in the last 90 days"
    return f"recognised {_times(times)} in the last 90 days, by {givers} people"


def _one_on_ones(values: Mapping[str, float]) -> str:
    last4, missed = _count(values, "one_on_ones_last4"), _count(values, "one_on_ones_missed_last4")
    held = _count(values, "one_on_ones_held_90d")
    if last4 and missed:
        missed = min(missed, last4)
        if last4 == 1:
            return "the only recent 1:1 cancelled or missed"
        if missed == last4:
            return f"the last {last4} 1:1s all cancelled or missed"
        return f"{missed} of the last {last4} 1:1s cancelled or missed"
    if held is None:
        return "1:1s have been irregular lately"
    if held == 0:
        return "no 1:1 held in the last 90 days"
    if held == 1:
        return "only one 1:1 held in the last 90 days"
    return f"{'only ' if held <= 2 else ''}{held} 1:1s held in the last 90 days"


def _career(values: Mapping[str, float]) -> str:
    return _since(
        values,
        "days_since_career_talk",
        "ever_career_talk",
        "last career conversation logged",
        "no career conversation on record in the last",
        "no recent career conversation on record",
    )


def _goals(values: Mapping[str, float]) -> str:
    return _since(
        values,
        "days_since_goals_talk",
        "ever_goals_talk",
        "last 1:1 about goals held",
        "no 1:1 about goals on record in the last",
        "no recent 1:1 about goals on record",
    )


def _growth(values: Mapping[str, float]) -> str:
    # `days_since_learning` counts from where records begin when nothing was logged,
    # so "none in N months" is true either way.
    days, recent = _number(values, "days_since_learning"), _count(values, "learning_180d")
    if days is not None and recent:
        return f"last learning activity logged {_ago(days)}"
    if days is not None:
        return f"no learning activity logged in {_span(max(days, 1))}"
    if recent == 0:
        return "no learning activity logged in the last 6 months"
    if recent:
        return f"{recent} learning activit{'y' if recent == 1 else 'ies'} logged in the last 6 months"
    return "no recent learning activity on record"


_SINGLE = {
    "recognition": _recognition,
    "credit": _credit,
    "one_on_ones": _one_on_ones,
    "career": _career,
    "goals": _goals,
    "autonomy": lambda _values: AUTONOMY_PATTERN,
    "voice": lambda _values: VOICE_PATTERN,
    "growth": _growth,
}
# Phrases a manager cannot check against a record of their own.
_PATTERNS = frozenset({"autonomy", "voice"})


def _plan(values: Mapping[str, float], also: Sequence[str]) -> str:
    """The strongest few of the other things that fired, in one line.

    Autonomy and voice are left out when at least two checkable facts (dates,
    counts from calendars and records) are there to fill the line: next to
    numbers, a vague "signs of ..." clause reads like a verdict, and the manager
    can verify the facts for themselves. With fewer facts they fill the gaps, so
    the line still says what came together.
    """
    kinds: list[str] = []
    for kind in also:
        if kind not in _SINGLE and kind != "plan":
            raise ValueError(f"unknown evidence kind {kind!r}")
        if kind in _SINGLE and kind not in kinds:
            kinds.append(kind)
    facts = [k for k in kinds if k not in _PATTERNS]
    if len(facts) >= 2:
        kinds = facts
    else:
        keep = PLAN_MAX - len(facts)
        patterns = [k for k in kinds if k in _PATTERNS][:keep]
        kinds = [k for k in kinds if k not in _PATTERNS or k in patterns]
    parts = [_SINGLE[k](values) for k in kinds[:PLAN_MAX]]
    if not parts:
        return "several things at once that are worth looking at together"
    return "several things at once: " + "; ".join(parts)


def describe(evidence: str, values: Mapping[str, float], *, also: Sequence[str] = ()) -> str:
    """One short phrase, e.g. 'last recognised 11 weeks ago'.

    `also` matters only for the plan: the other evidence kinds that fired for
    the person, strongest first.
    """
    if evidence == "plan":
        return _plan(values, also)
    phrase = _SINGLE.get(evidence)
    if phrase is None:
        raise ValueError(f"unknown evidence kind {evidence!r}")
    return phrase(values)
