"""Put an observed pattern into plain words a manager can check for themselves.

Only patterns a manager could see in their own calendar or channels: never a
score, a survey answer or anything a person wrote.
"""

from __future__ import annotations

from collections.abc import Mapping


def _span(days: float) -> str:
    days = int(days)
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    if days < 120:
        return f"{days // 7} weeks"
    return f"{round(days / 30.44)} months"


def describe(evidence: str, values: Mapping[str, float]) -> str:
    """One short phrase, e.g. 'last recognised 11 weeks ago'."""
    if evidence == "recognition":
        days = values["days_since_recognition"]
        if values.get("ever_recognised"):
            return f"last recognised {_span(days)} ago"
        return f"no recognition on record in the last {_span(days)}"
    if evidence == "one_on_ones":
        last4, missed = int(values["one_on_ones_last4"]), int(values["one_on_ones_missed_last4"])
        held = int(values["one_on_ones_held_90d"])
        if last4 and missed:
            return f"{missed} of the last {last4} 1:1s cancelled or missed"
        if held == 0:
            return "no 1:1 held in the last 90 days"
        return f"{held} 1:1{'s' if held != 1 else ''} held in the last 90 days"
    if evidence == "career":
        days = values["days_since_career_talk"]
        if values.get("ever_career_talk"):
            return f"last career conversation logged {_span(days)} ago"
        return f"no career conversation on record in the last {_span(days)}"
    raise ValueError(f"unknown evidence kind {evidence!r}")
