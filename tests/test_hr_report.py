"""The HR summary as the weekly run and `retention report` write it from a real store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.settings import Settings
from pipelines.weekly.run import run_week
from pipelines.weeks import IsoWeek
from tests.conftest import TODAY, WEEK, tiny_org, write_drop

runner = CliRunner()


def settings_for(tmp_path: Path, **sections: dict[str, object]) -> Settings:
    return Settings(
        delivery={"outbox_dir": tmp_path / "outbox"},
        store={"path": tmp_path / "r.duckdb"},
        report={"dir": tmp_path / "reports", **sections.pop("report", {})},
        **sections,
    )


def personal_values() -> set[str]:
    rows = csv.DictReader(io.StringIO(tiny_org()["employees.csv"]))
    return {v for r in rows for v in (r["employee_id"], r["name"], r["email"]) if v}


def counts(table: dict) -> list[int]:
    rows = [*table["rows"], table["total"]]
    return [v for r in rows for v in [r["people"], *r["bands"].values()] if v is not None]


def test_the_weekly_run_writes_the_hr_summary_without_naming_anyone(conn, drop, tmp_path):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    report = run_week(conn, settings_for(tmp_path), IsoWeek.parse(WEEK))
    folder = tmp_path / "reports" / WEEK
    html = (folder / "hr-summary.html").read_text(encoding="utf-8")
    summary = json.loads((folder / "hr-summary.json").read_text(encoding="utf-8"))
    assert report.hr_summary == str(folder / "hr-summary.html")
    assert summary["week"] == WEEK and summary["nudges"]["total"] == report.nudges
    for value in personal_values():
        assert value not in html and value not in json.dumps(summary), value


def test_no_group_smaller_than_the_minimum_is_shown(conn, drop, tmp_path):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    run_week(conn, settings_for(tmp_path, report={"min_group_size": 6}), IsoWeek.parse(WEEK))
    summary = json.loads((tmp_path / "reports" / WEEK / "hr-summary.json").read_text(encoding="utf-8"))
    for population in ("everyone", "stars"):
        assert all(n == 0 or n >= 6 for n in counts(summary["people_by_band"][population])), population


def test_retention_report_writes_a_weeks_summary_from_a_read_only_store(in_tmp):
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    assert runner.invoke(app, ["run", "--week", WEEK, "--direct"]).exit_code == 0
    (in_tmp / "reports").rename(in_tmp / "first")
    result = runner.invoke(app, ["report", "--week", WEEK])
    assert result.exit_code == 0, result.output
    again = json.loads((in_tmp / "reports" / WEEK / "hr-summary.json").read_text(encoding="utf-8"))
    first = json.loads((in_tmp / "first" / WEEK / "hr-summary.json").read_text(encoding="utf-8"))
    assert again["nudges"] == first["nudges"] and again["people_by_band"] == first["people_by_band"]
