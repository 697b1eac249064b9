"""Training reads the store only while it builds snapshots: preview, report or a run can use it meanwhile."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from models.progress import Step
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.settings import Settings
from pipelines.store import connect
from pipelines.synthetic import SynthSpec, generate
from pipelines.training import train_stored

END = date(2026, 6, 28)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train-store")
    generate(SynthSpec(employees=400, months=18, seed=1, end=END), root / "drop")
    path = root / "r.duckdb"
    conn = connect(path)
    try:
        ingest_folder(conn, root / "drop", IngestOptions(today=END))
    finally:
        conn.close()
    return path


@pytest.mark.slow
def test_the_store_is_free_for_a_writer_while_the_model_fits(store, tmp_path):
    settings = Settings(store={"path": store}, model={"dir": tmp_path / "model", "min_validation_leavers": 1})
    written: list[str] = []

    def while_fitting(step: Step) -> None:
        if not written:  # the first candidate's first fit is done; the rest are still to come
            # A writer in this process: DuckDB refuses it while any other connection to the file is open.
            conn = connect(store)
            try:
                conn.execute("insert into audit values (current_timestamp, 'test', 'fitting', '{}')")
            finally:
                conn.close()
            written.append(step.text)

    _, trained = train_stored(settings, progress=while_fitting)
    assert written and trained.card["rows"] > 0
