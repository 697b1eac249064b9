"""Training rows: monthly point-in-time snapshots with a forward-looking label.

A row is (employee, snapshot) with features from before the snapshot and label
1 if the person left voluntarily within `horizon_days` after it. Involuntary
exits are not positives. Snapshots whose horizon runs past the end of the data
are censored (we cannot know yet who will leave) and never used for training.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import duckdb
import numpy as np
import pandas as pd

from core.contract import SOURCES
from core.db import fetch_value, quote_ident
from core.errors import ModelError
from models.features import snapshot_frame

# What the model sees. Identifiers, today's status and the snapshot date are not features.
NUMERIC_FEATURES: tuple[str, ...] = (
    "tenure_days",
    "rating_latest",
    "rating_change",
    "days_since_review",
    "days_since_promotion",
    "recognition_30d",
    "recognition_90d",
    "recognition_180d",
    "recognition_trend",
    "givers_90d",
    "days_since_recognition",
    "one_on_ones_scheduled_90d",
    "one_on_ones_held_90d",
    "one_on_ones_missed_90d",
    "one_on_ones_missed_last4",
    "days_since_one_on_one",
    "days_since_career_talk",
    "days_since_goals_talk",
    "autonomy_latest",
    "autonomy_change",
    "voice_latest",
    "voice_change",
    "growth_latest",
    "learning_180d",
    "days_since_learning",
    "team_size",
    "team_recognition_90d",
    "team_one_on_ones_held_90d",
    "team_voluntary_exits_180d",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("department", "location")
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
# Columns the model card reports leaver and flag rates for (never features unless listed above).
GROUP_COLUMNS: tuple[str, ...] = ("department", "location")
# Features need this much history before the first snapshot to mean anything.
WARM_UP_DAYS = 90



def _window_sql(edge: str, kinds: tuple[str, ...]) -> str:
    """The earliest (`min`) or latest (`max`) event over the contract's sources that mark the data window."""
    parts = [
        f"select {edge}({quote_ident(s.event_time)}) as t from {quote_ident(s.name)}"
        for s in SOURCES
        if s.data_window in kinds and s.event_time
    ]
    return f"select {edge}(t) from ({' union all '.join(parts)})"


_DATA_END_SQL = _window_sql("max", ("start_end", "end"))
_DATA_START_SQL = _window_sql("min", ("start_end",))


def feature_list(extras: Sequence[str] = ()) -> tuple[str, ...]:
    """Our features plus the extra HRIS columns HR chose to keep."""
    return FEATURES + tuple(extras)


def attributes_frame(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> pd.DataFrame:
    """One row per employee, one column per extra HRIS attribute (numbers where every value is one).

    These are today's values: HR should only list attributes that do not change
    because someone is leaving (a notice-period flag would leak the answer).
    """
    long = conn.execute(
        "select employee_id, name, value from employee_attributes where list_contains(?, name)", [list(names)]
    ).df()
    wide = long.pivot(index="employee_id", columns="name", values="value") if len(long) else pd.DataFrame()
    wide = wide.reindex(columns=list(names))
    for name in names:
        converted = pd.to_numeric(wide[name], errors="coerce")
        if converted.notna().sum() == wide[name].notna().sum():
            wide[name] = converted.astype("float64")
    wide.index.name = "employee_id"
    return wide.reset_index()


def with_attributes(frame: pd.DataFrame, attributes: pd.DataFrame | None) -> pd.DataFrame:
    if attributes is None or attributes.shape[1] <= 1:
        return frame
    return frame.merge(attributes, on="employee_id", how="left")


@dataclass
class TrainingSet:
    frame: pd.DataFrame  # features + employee_id, as_of, label
    snapshots: list[datetime]
    censored: list[datetime]
    data_start: datetime
    data_end: datetime
    horizon_days: int
    features: tuple[str, ...] = FEATURES
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        return self.frame["label"].to_numpy(dtype=np.int8)

    @property
    def positives(self) -> int:
        return int(self.frame["label"].sum())


def monthly_snapshots(start: datetime, end: datetime) -> list[datetime]:
    """The first of each month from `start` (exclusive of a partial month) up to `end`."""
    first = datetime(start.year, start.month, 1)
    if first < start:
        first = datetime(first.year + (first.month == 12), first.month % 12 + 1, 1)
    out = []
    while first <= end:
        out.append(first)
        first = datetime(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return out


def data_window(conn: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime]:
    start, end = fetch_value(conn, _DATA_START_SQL), fetch_value(conn, _DATA_END_SQL)
    if start is None or end is None:
        raise ModelError("the store holds no recognition, 1:1 or survey events to learn from: ingest some first")
    return _as_datetime(start), _as_datetime(end)


def _as_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min)  # type: ignore[arg-type]


def label_frame(conn: duckdb.DuckDBPyConnection, frame: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """1 where the person left voluntarily within the horizon after the snapshot."""
    exits = conn.execute(
        "select employee_id, exit_date, exit_reason from employees where exit_date is not null"
    ).df()
    merged = frame[["employee_id", "as_of"]].merge(exits, on="employee_id", how="left")
    exit_at = pd.to_datetime(merged["exit_date"])
    as_of = pd.to_datetime(merged["as_of"])
    within = (exit_at >= as_of) & (exit_at < as_of + pd.Timedelta(days=horizon_days))
    return (within & (merged["exit_reason"] == "voluntary")).to_numpy(dtype=np.int8)


def training_set(
    conn: duckdb.DuckDBPyConnection,
    *,
    horizon_days: int = 180,
    extras: Sequence[str] = (),
    excluded: Collection[str] = (),
) -> TrainingSet:
    """Every uncensored monthly snapshot with its label, without the `excluded` people (the opted out)."""
    start, end = data_window(conn)
    snapshots = monthly_snapshots(start + timedelta(days=WARM_UP_DAYS), end)
    labelled = [s for s in snapshots if s + timedelta(days=horizon_days) <= end]
    censored = [s for s in snapshots if s not in labelled]
    if not labelled:
        raise ModelError(
            f"no snapshot has a full {horizon_days}-day horizon inside the data ({start:%Y-%m-%d} to"
            f" {end:%Y-%m-%d}); a model needs more history (or a shorter [model] horizon_days)"
        )
    frame = with_attributes(snapshot_frame(conn, labelled), attributes_frame(conn, extras) if extras else None)
    frame = frame[~frame["employee_id"].isin(list(excluded))].reset_index(drop=True)  # never trained on
    frame["label"] = label_frame(conn, frame, horizon_days)
    return TrainingSet(
        frame=frame,
        snapshots=labelled,
        censored=censored,
        data_start=start,
        data_end=end,
        horizon_days=horizon_days,
        features=feature_list(extras),
    )


def model_input(frame: pd.DataFrame, features: tuple[str, ...] = FEATURES) -> pd.DataFrame:
    """The columns the model sees, with one dtype per column whatever the source."""
    out = frame.loc[:, list(features)].copy()
    for name in features:
        if name in CATEGORICAL_FEATURES or not pd.api.types.is_numeric_dtype(out[name]):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
        else:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    return out


def group_columns(frame: pd.DataFrame, extras: Sequence[str] = ()) -> list[str]:
    """Columns to report leaver and flag rates by: ours, and extras with few distinct values."""
    return [*GROUP_COLUMNS, *(e for e in extras if e in frame and frame[e].nunique() <= 20)]
