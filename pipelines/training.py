"""Train from the store with the configured options, and decide whether a new model may replace the current one.

Shared by `retention model train` and the `retrain` flow, so both train the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from sklearn.metrics import roc_auc_score

from core.errors import RetentionError
from models.calibration import predict_risk
from models.dataset import TrainingSet, model_input, training_set
from models.persist import load
from models.progress import Progress
from models.train import Trained, train
from pipelines.options import train_options
from pipelines.privacy.optout import opted_out_ids
from pipelines.settings import Settings
from pipelines.store import open_store

# Fewer voluntary leavers than this among the rows the current model never saw, and the
# comparison falls back to the two cards' validation ROC-AUC.
MIN_FRESH_LEAVERS = 20


def training_data(conn: duckdb.DuckDBPyConnection, settings: Settings) -> TrainingSet:
    """Snapshots as configured; opted-out people are never trained on."""
    return training_set(
        conn,
        horizon_days=settings.model.horizon_days,
        extras=tuple(settings.ingest.extra_columns),
        excluded=opted_out_ids(conn),
    )


def train_from_store(
    conn: duckdb.DuckDBPyConnection, settings: Settings, *, progress: Progress | None = None
) -> tuple[TrainingSet, Trained]:
    data = training_data(conn, settings)
    return data, train(data, train_options(settings), progress=progress)


def train_stored(settings: Settings, *, progress: Progress | None = None) -> tuple[TrainingSet, Trained]:
    """Build the snapshots with the store open read-only, then fit with it closed.

    Fitting takes minutes on a busy machine; meanwhile `preview`, `report` or an `explain`
    can read the store, and a weekly run can write it.
    """
    with open_store(settings.store.path, read_only=True, memory_limit=settings.store.memory_limit) as conn:
        data = training_data(conn, settings)
    return data, train(data, train_options(settings), progress=progress)


@dataclass(frozen=True)
class Promotion:
    promote: bool
    reason: str
    new_auc: float
    current_auc: float | None  # None: no usable current model


def compare_with_current(data: TrainingSet, trained: Trained, model_dir: Path, *, tolerance: float) -> Promotion:
    """Promote unless the current model does better, by more than `tolerance`, on the same validation rows.

    Both are scored on the new model's validation windows, restricted to
    snapshots after the current model's data window: rows the current model
    was fitted on would flatter it. Without enough such rows, the two cards'
    validation ROC-AUC are compared instead, and the reason says so.
    """
    new_auc = float(trained.card["validation"]["roc_auc"])
    try:
        current = load(model_dir, expected_features=tuple(trained.card["features"]))
    except (RetentionError, FileNotFoundError) as exc:
        return Promotion(True, f"no usable current model ({exc})", new_auc, None)
    rows, p_new = trained.validation
    end = str(current.card.get("data_window", {}).get("end", ""))
    as_of = data.frame["as_of"].iloc[rows].astype(str).str[:10].to_numpy()
    fresh = as_of > end if end else np.zeros(len(rows), dtype=bool)
    y = data.labels[rows]
    if fresh.any() and int(y[fresh].sum()) >= MIN_FRESH_LEAVERS and len(set(y[fresh])) == 2:
        X = model_input(data.frame.iloc[rows[fresh]], data.features)
        current_auc = float(roc_auc_score(y[fresh], predict_risk(current.estimator, X)))
        new_auc = float(roc_auc_score(y[fresh], p_new[fresh]))
        basis = f"{int(fresh.sum()):,} validation rows after {end}"
    else:
        current_auc = float(current.card.get("validation", {}).get("roc_auc", 0.0))
        basis = "the two cards' validation ROC-AUC (too few rows newer than the current model)"
    promote = new_auc >= current_auc - tolerance
    verdict = "promoted" if promote else "kept the current model"
    return Promotion(
        promote,
        f"{verdict}: new {new_auc:.3f} vs current {current_auc:.3f} on {basis}, tolerance {tolerance:g}",
        new_auc,
        current_auc,
    )
