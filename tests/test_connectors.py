"""The connector room: one interface, found by extension or format name, each format staging text with lines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pytest

from core.contract import EMPLOYEES, PERFORMANCE, Source
from core.errors import ConfigError, IngestError
from pipelines.connectors.base import Connector, ExportFile, Staged
from pipelines.connectors.registry import (
    BY_EXTENSION,
    for_file,
    for_format,
    stage_export,
)
from pipelines.ingest.discover import DROP_EXTENSIONS


def test_every_drop_folder_extension_has_its_connector_and_is_discovered():
    assert DROP_EXTENSIONS == tuple(BY_EXTENSION) == (".csv", ".parquet", ".jsonl")
    assert {for_format(name).format for name in ("csv", "parquet", "jsonl")} == {"csv", "parquet", "jsonl"}


def test_an_unknown_format_or_extension_is_named():
    with pytest.raises(ConfigError, match="unknown format 'ics'"):
        for_format("ics")
    with pytest.raises(IngestError, match=r"d/x.xlsx: unsupported file type '.xlsx' \(use .csv, .parquet or .jsonl\)"):
        for_file(ExportFile(Path("x.xlsx"), display="d/x.xlsx"))


def test_a_csv_stages_text_with_line_numbers_without_being_told_its_line_count(conn, tmp_path):
    path = tmp_path / "performance.csv"
    path.write_text("employee_id,review_date,rating\nE01,2026-01-01,4\nE02,2026-01-02\nE03,not a date,x", encoding="utf-8")
    staged = stage_export(conn, PERFORMANCE, ExportFile(path, display="performance.csv"), {})
    assert (staged.headers, staged.rows, staged.rejects) == (
        ["employee_id", "review_date", "rating"], 2, [(3, "too few fields on this line")]
    )
    assert conn.execute("select _line, rating from _stage order by _line").fetchall() == [(2, "4"), (4, "x")]


def test_a_connector_refuses_a_table_it_cannot_feed(conn, tmp_path):
    class RosterOnly(Connector):
        format = "hris_csv"
        tables = frozenset({"employees"})

        def stage(
            self, conn: duckdb.DuckDBPyConnection, source: Source, export: ExportFile, options: Mapping[str, object]
        ) -> Staged:
            raise AssertionError("never asked")

    path = tmp_path / "performance.csv"
    path.write_text("employee_id\n", encoding="utf-8")
    assert RosterOnly().feeds(EMPLOYEES) and not RosterOnly().feeds(PERFORMANCE)
    with pytest.raises(IngestError, match="the hris_csv format cannot feed performance"):
        stage_export(conn, PERFORMANCE, ExportFile(path, display="performance.csv"), {}, connector=RosterOnly())
