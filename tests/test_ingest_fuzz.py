"""Property: no malformed CSV makes ingestion crash; it loads or says what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import IngestError
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.store import connect
from tests.conftest import TODAY, tiny_org, write_drop

HEADER = "recipient_id,given_at,giver_id,points,channel,message\n"
cells = st.one_of(
    st.sampled_from(["E05", "E06", "", "E999", "2026-01-05", "2026-13-45", "10", "-3", "x", '"', '""', "\r", ",", ";"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
lines = st.lists(st.lists(cells, min_size=0, max_size=8).map(",".join), max_size=12)
raw_tail = st.binary(max_size=64)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A store holding the tiny org; each example then ingests one recognition file into it."""
    root = tmp_path_factory.mktemp("fuzz")
    conn = connect(root / "r.duckdb")
    ingest_folder(conn, write_drop(root / "base", tiny_org()), IngestOptions(today=TODAY))
    yield conn, root
    conn.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=lines, tail=raw_tail, header=st.booleans())
@example(body=["E05,\r"], tail=b"\x00", header=True)  # a bare CR: DuckDB's line numbers ran past the file's
def test_malformed_csv_never_crashes_ingest(loaded, body, tail, header):
    conn, root = loaded
    employees = conn.execute("select count(*) from employees").fetchall()
    content = (HEADER if header else "") + "\n".join(body) + "\n"
    folder = write_drop(root / "weekly", {"recognition/new.csv": content.encode("utf-8") + tail})
    try:
        report = ingest_folder(conn, folder, IngestOptions(today=TODAY, max_reject_share=1.0))
    except IngestError as exc:
        assert "recognition/new.csv" in str(exc)
        assert conn.execute("select count(*) from employees").fetchall() == employees
        return
    except duckdb.Error as exc:  # the property under test
        raise AssertionError(f"a DuckDB error escaped ingestion: {exc}") from exc
    (new,) = [f for f in report.files if f.path == "recognition/new.csv"]
    if new.status == "loaded":
        stored = conn.execute("select count(*) from recognition where _file = 'recognition/new.csv'").fetchall()
        assert stored == [(new.rows_loaded,)]
        unlocated = conn.execute("select count(*) from quarantine where file = 'recognition/new.csv' and line is null")
        assert unlocated.fetchall() == [(0,)]
