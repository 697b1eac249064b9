"""The weekly HR summary: counts over groups, never people.

`build_summary` turns one run's numbers into a JSON-safe dict, and `summary_html`
renders that dict with `templates/hr_summary.html`. Both are pure: the flow gathers
the inputs from the store and writes the outputs.

No employee id, name, email or individual score ever enters the summary; only counts,
and means over at least `min_group_size` (N) people. The people-by-band table and its
suppression rules are in `nudges/suppression.py`; this module builds the other sections
(freshness, drift, model health, quarantine, follow-through) around it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from core.contract import SOURCES
from core.errors import RenderError
from core.templating import environment
from nudges.bands import BANDS, high_from
from nudges.followthrough import RateRow, rate_rows
from nudges.suppression import other_label, people_by_band
from nudges.uplift import Difference, Rate, difference

# How old a source's newest event may be before it looks stale (the contract says, per source).
STALE_AFTER_DAYS: Mapping[str, int | None] = {source.name: source.stale_after_days for source in SOURCES}
DEFAULT_STALE_AFTER_DAYS = 14
DRIFT_WEEKS = 4
DRIFT_ABSOLUTE = 0.05
DRIFT_RELATIVE = 0.25
_METHOD_LABELS = {
    "model": "Machine-learned model (calibrated)",
    "rules": "Transparent rules score (no trained model in use)",
}


@dataclass(frozen=True)
class SourceFreshness:
    """How current one input source is, as the store sees it."""

    source: str
    latest_event: date | None  # newest event date in the store for that source
    last_ingested: datetime | None  # when a file of that source was last ingested
    rows: int


@dataclass(frozen=True)
class ReportInputs:
    """Everything one week's HR summary is built from; per-person arrays stay unlabelled."""

    week: str
    generated_at: datetime
    min_group_size: int
    threshold: float
    score_method: str  # "model" | "rules"
    score_note: str  # why that method (no PII)
    departments: Sequence[str]  # one per scored person, same order as risks and stars
    risks: np.ndarray  # float, one per scored person
    stars: np.ndarray  # bool, one per scored person
    nudges_by_kind: Mapping[str, int]
    managers_total: int  # active managers with at least one active report
    managers_emailed: int  # digests queued for this week
    skipped_by_reason: Mapping[str, int]
    freshness: Sequence[SourceFreshness]
    quarantine: Sequence[tuple[str, str, int]]  # (source, reason, rows)
    model_card: Mapping[str, Any] | None
    mean_risk_history: Sequence[tuple[str, float]]  # (week, mean risk of everyone scored), oldest first
    followthrough: FollowthroughInputs | None = None
    delivery_mode: str = "files"  # "files": digests were written to the outbox folder; "smtp": sent
    kind_titles: Mapping[str, str] = field(default_factory=dict)  # nudge kind id -> its catalog title


@dataclass(frozen=True)
class ExperimentCounts:
    """One kind's counts per arm ("nudged", "control"): (k, n)."""

    kind: str
    recovered: Mapping[str, tuple[int, int]]
    exits: Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class FollowthroughInputs:
    """Counts only: (done, resolved, pending) per kind and per department, and the experiment's arms."""

    days: int
    by_kind: Mapping[str, tuple[int, int, int]]
    by_department: Mapping[str, tuple[int, int, int]]
    demoted: Sequence[str]
    changes: Sequence[tuple[str, str]]  # (kind, demoted | restored) decided this week
    holdout_share: float
    experiment: Sequence[ExperimentCounts]
    weeks_running: int  # weeks since the first control was assigned
    exit_horizon_days: int
    max_half_width: float
    exit_max_half_width: float = 0.01


# --- the other sections -------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def freshness_rows(freshness: Sequence[SourceFreshness], generated_at: datetime) -> list[dict[str, Any]]:
    """One row per source; "stale" when its newest event is older than that source's limit (or it has none)."""
    today = generated_at.date()
    rows = []
    for f in sorted(freshness, key=lambda f: f.source):
        days = None if f.latest_event is None else (today - f.latest_event).days
        limit = STALE_AFTER_DAYS.get(f.source, DEFAULT_STALE_AFTER_DAYS)
        rows.append(
            {
                "source": f.source,
                "latest_event": f.latest_event.isoformat() if f.latest_event else None,
                "days_old": days,
                "last_ingested": f.last_ingested.isoformat() if f.last_ingested else None,
                "rows": int(f.rows),
                "stale_after_days": limit,
                "stale": limit is not None and (days is None or days > limit),
            }
        )
    return rows


def mean_risk_drift(this_week: float | None, history: Sequence[tuple[str, float]], *, week: str) -> dict[str, Any]:
    """Has the average score moved? A shift in everyone's mean usually means the data changed, not the people.

    Baseline: the mean of the last `DRIFT_WEEKS` (4) weekly means before this
    week (an entry for this week itself is ignored). Flag when the absolute
    difference exceeds `DRIFT_ABSOLUTE` (0.05) or, with a positive baseline,
    the difference relative to the baseline exceeds `DRIFT_RELATIVE` (25%).
    Differences are rounded to 10 decimals first, so a boundary value is not
    flagged by floating-point noise. Without a mean this week or any history
    there is nothing to compare and no flag.
    """
    earlier = [(w, float(m)) for w, m in history if w != week and m is not None and not math.isnan(float(m))]
    recent = earlier[-DRIFT_WEEKS:]
    baseline = sum(m for _, m in recent) / len(recent) if recent else None
    difference = relative = None
    flagged = False
    if this_week is not None and baseline is not None:
        difference = round(this_week - baseline, 10)
        relative = round(difference / baseline, 10) if baseline > 0 else None
        flagged = abs(difference) > DRIFT_ABSOLUTE or (relative is not None and abs(relative) > DRIFT_RELATIVE)
    return {
        "this_week": None if this_week is None else round(this_week, 4),
        "baseline": None if baseline is None else round(baseline, 4),
        "baseline_weeks": [w for w, _ in recent],
        "difference": None if difference is None else round(difference, 4),
        "relative": None if relative is None else round(relative, 4),
        "flagged": flagged,
        "rule": (
            f"flagged when this week's mean differs from the mean of the previous up to {DRIFT_WEEKS} weeks"
            f" by more than {DRIFT_ABSOLUTE:.2f}, or by more than {DRIFT_RELATIVE:.0%} of it"
        ),
    }


def model_health(card: Mapping[str, Any] | None, generated_at: datetime) -> dict[str, Any] | None:
    """What HR needs from the model card: which model, how old, how well it validated."""
    if card is None:
        return None
    trained_at = card.get("trained_at")
    age = None
    if trained_at:
        try:
            age = (_utc(generated_at) - _utc(datetime.fromisoformat(str(trained_at)))).days
        except ValueError:
            age = None
    validation = card.get("validation") or {}

    def metric(name: str) -> float | None:
        value = validation.get(name)
        return None if value is None else round(float(value), 4)

    return {
        "version": str(card.get("version", "unknown")),
        "trained_at": None if trained_at is None else str(trained_at),
        "age_days": age,
        "estimator": str(card.get("estimator", "unknown")),
        "validation": {k: metric(k) for k in ("roc_auc", "pr_auc", "brier", "lift_top_decile")},
    }


def _by_count(counts: Mapping[str, int], key: str) -> list[dict[str, Any]]:
    return [{key: str(k), "count": int(v)} for k, v in sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))]


def _quarantine(rows: Sequence[tuple[str, str, int]]) -> dict[str, Any]:
    merged: Counter[tuple[str, str]] = Counter()
    for source, reason, count in rows:
        merged[(str(source), str(reason))] += int(count)
    listed = [{"source": s, "reason": r, "rows": c} for (s, r), c in sorted(merged.items())]
    return {"rows": listed, "total": sum(merged.values())}


def _rate_json(row: RateRow) -> dict[str, Any]:
    return {"label": row.label, "done": row.done, "resolved": row.resolved, "pending": row.pending,
            "rate": round(row.rate, 4) if row.rate is not None else None}


def _difference_json(diff: Difference) -> dict[str, Any]:
    def pct(x: float | None) -> float | None:
        return round(x, 4) if x is not None else None

    return {
        "with": {"k": diff.with_.k, "n": diff.with_.n, "rate": pct(diff.with_.value)},
        "without": {"k": diff.without.k, "n": diff.without.n, "rate": pct(diff.without.value)},
        "difference": pct(diff.estimate),
        "low": pct(diff.low),
        "high": pct(diff.high),
        "enough": diff.enough,
        "weeks_needed": diff.weeks_needed,
    }


def followthrough_section(ft: FollowthroughInputs, n: int) -> dict[str, Any]:
    """Rates by kind and department (groups under N pooled or withheld) and the experiment's comparisons."""
    experiment: list[dict[str, Any]] = []
    for row in ft.experiment:
        parts: dict[str, dict[str, Any]] = {}
        for label, counts, width in (
            ("recovery", row.recovered, ft.max_half_width),
            ("exits", row.exits, ft.exit_max_half_width),
        ):
            with_, without = counts.get("nudged", (0, 0)), counts.get("control", (0, 0))
            parts[label] = _difference_json(
                difference(Rate(*with_), Rate(*without), max_half_width=width, weeks_so_far=ft.weeks_running,
                           min_per_group=n)
            )
        experiment.append({"kind": row.kind, **parts})
    return {
        "days": ft.days,
        "by_kind": [_rate_json(r) for r in rate_rows(ft.by_kind, min_group_size=n, other="other kinds")],
        "by_department": [_rate_json(r) for r in rate_rows(ft.by_department, min_group_size=n, other=other_label(n))],
        "demoted": sorted(ft.demoted),
        "changes": [{"kind": k, "action": a} for k, a in ft.changes],
        "experiment": {
            "holdout_share": ft.holdout_share,
            "weeks_running": ft.weeks_running,
            "exit_horizon_days": ft.exit_horizon_days,
            "max_half_width": ft.max_half_width,
            "exit_max_half_width": ft.exit_max_half_width,
            "has_control": any(k["recovery"]["without"]["n"] or k["exits"]["without"]["n"] for k in experiment),
            "kinds": experiment,
        },
    }


def build_summary(inputs: ReportInputs) -> dict[str, Any]:
    """The HR summary as a JSON-safe dict: counts and group means only, never a person."""
    size = len(inputs.departments)
    if not size == len(inputs.risks) == len(inputs.stars):
        raise ValueError(
            f"departments, risks and stars differ in length ({size}, {len(inputs.risks)}, {len(inputs.stars)})"
        )
    if inputs.score_method not in _METHOD_LABELS:
        raise ValueError(f"score_method must be one of {sorted(_METHOD_LABELS)}, not {inputs.score_method!r}")
    n = max(int(inputs.min_group_size), 1)
    risks = np.asarray(inputs.risks, dtype=np.float64)
    stars = np.asarray(inputs.stars, dtype=bool)
    known = risks[~np.isnan(risks)]
    mean_risk = float(known.mean()) if len(known) >= n else None
    managers_total, emailed = int(inputs.managers_total), int(inputs.managers_emailed)
    nudges = _by_count(inputs.nudges_by_kind, "kind")
    tables = people_by_band(inputs.departments, risks, stars, threshold=inputs.threshold, min_group_size=n)
    return {
        "week": inputs.week,
        "generated_at": inputs.generated_at.isoformat(),
        "min_group_size": n,
        "bands": list(BANDS),
        "score": {
            "method": inputs.score_method,
            "label": _METHOD_LABELS[inputs.score_method],
            "note": inputs.score_note,
            "threshold": float(inputs.threshold),
            "band_rule": (
                f"high: score at least {high_from(inputs.threshold):g}; elevated: at least {inputs.threshold:g}"
                " (the threshold that flags people); low: below that or no score"
            ),
        },
        "scored": {"people": tables["everyone"]["total"]["people"], "stars": tables["stars"]["total"]["people"]},
        "people_by_band": tables,
        "nudges": {"by_kind": nudges, "total": sum(x["count"] for x in nudges)},
        "delivery": {"mode": inputs.delivery_mode, "verb": "written" if inputs.delivery_mode == "files" else "sent"},
        "managers": {
            "total": managers_total,
            "emailed": emailed,
            "share": round(emailed / managers_total, 4) if managers_total else None,
        },
        "skipped": _by_count(inputs.skipped_by_reason, "reason"),
        "freshness": {
            "stale_after_days": dict(STALE_AFTER_DAYS),
            "sources": freshness_rows(inputs.freshness, inputs.generated_at),
        },
        "quarantine": _quarantine(inputs.quarantine),
        "model": model_health(inputs.model_card, inputs.generated_at),
        "drift": mean_risk_drift(mean_risk, inputs.mean_risk_history, week=inputs.week),
        "followthrough": followthrough_section(inputs.followthrough, n) if inputs.followthrough else None,
        # Kinds are ids in the JSON; the page names them by their catalog titles, as HR reads them.
        "kind_titles": dict(inputs.kind_titles),
    }


def summary_html(summary: Mapping[str, Any], *, folder: Path | None = None) -> str:
    """The summary as a self-contained, autoescaped HTML page (templates/hr_summary.html)."""
    try:
        return environment(folder).get_template("hr_summary.html").render(summary=summary)
    except jinja2.TemplateError as exc:
        raise RenderError(f"HR summary template failed: {exc}") from exc
