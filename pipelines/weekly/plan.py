"""A week's plan: features -> stars and scores -> selection, decided but written nowhere.

The weekly run and `retention preview` share it. People who opted out are dropped right
after their features are computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from core.db import (
    release_memory,
)
from core.errors import ConfigError
from models.dataset import attributes_frame, feature_list
from models.features import Features, compute_features
from models.persist import warm_up
from models.rules import rules_score
from models.score import Scores, model_scores, usable_model
from models.stars import flagged, star_mask
from nudges.catalog import Catalog, NudgeKind, load_catalog
from nudges.experiment import arm_for
from nudges.select import Selection, select
from pipelines import options
from pipelines.followthrough import (
    demoted_now,
    load_assignments,
    withheld_before,
)
from pipelines.privacy.optout import without_opted_out
from pipelines.settings import Settings
from pipelines.weekly.queries import load_last_sent, load_people, load_previous_managers
from pipelines.weekly.stage import announced
from pipelines.weeks import IsoWeek


@dataclass
class WeekPlan:
    """What a week would do, decided but not yet written anywhere (the run and `preview` share it)."""

    week: IsoWeek
    catalog: Catalog
    features: Features
    scores: Scores
    stars: np.ndarray
    selection: Selection
    threshold: float
    followthrough_days: int = 14

def active_kinds(settings: Settings) -> tuple[Catalog, list[NudgeKind]]:
    catalog = load_catalog(settings.nudges.catalog)
    unknown = sorted(set(settings.nudges.disabled_kinds) - set(catalog.by_id()))
    if unknown:
        raise ConfigError(f"[nudges] disabled_kinds names unknown kinds: {', '.join(unknown)}")
    return catalog, catalog.active(settings.nudges.disabled_kinds)

@announced("features")
def features_stage(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: IsoWeek
) -> tuple[Features, pd.DataFrame | None]:
    """Point-in-time features for the week, and the configured extra HRIS columns.

    People who opted out are dropped here, so they are never scored, selected or named in a
    digest; as managers they still receive their reports' digests."""
    extras = settings.ingest.extra_columns
    if settings.model.enabled:
        warm_up(Path(settings.model.dir))  # the scorer's imports overlap the features query
    features = without_opted_out(conn, compute_features(conn, week.as_of))
    attributes = attributes_frame(conn, extras) if extras else None
    # The week's big scans are done: what DuckDB cached for them is memory the rendering needs.
    release_memory(conn, settings.store.memory_limit)
    return features, attributes

def stars_stage(features: Features, settings: Settings, attributes: pd.DataFrame | None = None) -> np.ndarray:
    """Who HR counts as a star this week (rating rules and/or an HRIS flag)."""
    flag = None
    if settings.stars.flag_column and attributes is not None:
        values = attributes[settings.stars.flag_column].astype(str).str.strip().str.lower()
        marked = set(attributes.loc[values.isin(TRUTHY), "employee_id"])
        flag = np.array([e in marked for e in features["employee_id"]], dtype=bool)
    return star_mask(
        features.numeric("rating_latest"),
        options.star_rule(settings),
        flag=flag,
    )

TRUTHY = {"true", "yes", "y", "1", "1.0", "t"}

def score_stage(
    features: Features,
    settings: Settings,
    attributes: pd.DataFrame | None = None,
    *,
    focus: np.ndarray | None = None,
) -> Scores:
    """The trained model when it is usable, else the transparent rules score, with the reason."""
    extras = tuple(settings.ingest.extra_columns)
    choice = usable_model(
        settings.model.dir,
        enabled=settings.model.enabled,
        max_age_days=settings.model.max_age_days,
        features=feature_list(extras),
    )
    if choice.model is not None:
        return model_scores(
            choice.model,
            features,
            options.healthy(settings),
            attributes=attributes,
            focus=focus,
            # Drivers rank nudges, and only people at or above the threshold get one.
            min_risk=settings.model.threshold if focus is not None else None,
            note=choice.reason,
        )
    try:
        return rules_score(features, options.rule_weights(settings), note=f"rules score: {choice.reason}")
    except ValueError as exc:
        raise ConfigError(f"[rules]: {exc}") from None

@announced("score")
def scoring_stage(
    features: Features, settings: Settings, attributes: pd.DataFrame | None
) -> tuple[np.ndarray, Scores]:
    """Who the stars are, then risk for everyone and drivers for the stars."""
    stars = stars_stage(features, settings, attributes)
    return stars, score_stage(features, settings, attributes, focus=stars)

def select_stage(
    conn: duckdb.DuckDBPyConnection,
    features: Features,
    scores: Scores,
    stars: np.ndarray,
    kinds: list[NudgeKind],
    settings: Settings,
    week: IsoWeek,
) -> Selection:
    policy = options.selection_policy(settings, scores.method)
    # Only stars at or above the threshold are routed or checked for a manager change.
    routed = [str(e) for e in features["employee_id"][flagged(stars, scores.risk, policy.threshold)]]
    # A nudge withheld as a control cools down exactly like one sent.
    last_sent = load_last_sent(conn, week)
    for pair, withheld in withheld_before(conn, week).items():
        last_sent[pair] = max(withheld, last_sent.get(pair, withheld))
    stored = load_assignments(conn, routed)
    experiment = settings.experiment

    def arm_of(employee_id: str, kind: str) -> str:
        return arm_for(employee_id, kind, share=experiment.holdout_share, seed=experiment.seed, stored=stored)

    try:
        selection = select(
            features,
            scores,
            stars,
            kinds,
            load_people(conn, routed),
            policy,
            today=week.monday,
            last_sent=last_sent,
            previous_managers=load_previous_managers(conn, week, routed),
            arm_of=arm_of,
            demoted=demoted_now(conn),
        )
    except ValueError as exc:
        raise ConfigError(f"nudge catalog: {exc}") from None
    return selection

@announced("select")
def selection_stage(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    week: IsoWeek,
    features: Features,
    stars: np.ndarray,
    scores: Scores,
) -> WeekPlan:
    catalog, kinds = active_kinds(settings)
    selection = select_stage(conn, features, scores, stars, kinds, settings, week)
    return WeekPlan(
        week, catalog, features, scores, stars, selection, options.threshold(settings, scores.method), settings.followthrough.days
    )

def plan_week(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    week: IsoWeek,
) -> WeekPlan:
    """Features, stars, scores and selection for a week; reads the store, writes nothing."""
    features, attributes = features_stage(conn, settings, week)
    stars, scores = scoring_stage(features, settings, attributes)
    return selection_stage(conn, settings, week, features, stars, scores)
