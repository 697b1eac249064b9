"""Ingestion: bad rows quarantined with file, line, column and reason; good rows always load."""

from __future__ import annotations

import json
import os
import re

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import IngestError
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from tests.conftest import TODAY, csv_text, tiny_org, write_drop

OPTIONS = IngestOptions(today=TODAY)

EMP_HEADER = ["employee_id", "email", "manager_id", "hire_date", "status", "name", "department", "job_title", "location", "exit_date", "exit_reason"]


def quarantine(conn: duckdb.DuckDBPyConnection, file: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "select line, column_name, reason from quarantine where file = ? order by line", [file]
    ).fetchall()


def count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return conn.execute(f"select count(*) from {table}").fetchone()[0]


def with_employees(rows: list[list[object]]) -> dict[str, str]:
    files = tiny_org()
    base = files["employees.csv"].rstrip("\n")
    files["employees.csv"] = base + "\n" + csv_text(EMP_HEADER, rows).split("\n", 1)[1]
    return files


def test_the_tiny_org_loads_without_quarantine(conn, drop):
    report = ingest_folder(conn, drop, OPTIONS)
    assert report.rows_quarantined == 0
    assert count(conn, "employees") == 20
    assert count(conn, "recognition") > 100


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (["", "x@example.com", "E01", "2020-01-01", "active", "No Id", "", "", "", "", ""], "employee_id", "missing employee_id"),
        (["E90", "x@example.com", "E01", "2020-13-45", "active", "Bad Date", "", "", "", "", ""], "hire_date", "hire_date is not a date"),
        (["E91", "x@example.com", "E01", "2999-01-01", "active", "Far Future", "", "", "", "", ""], "hire_date", "hire_date is an impossible date"),
        (["E92", "x@example.com", "E999", "2020-01-01", "active", "Lost", "", "", "", "", ""], "manager_id", "manager_id not found in employees"),
        (["E05", "dup@example.com", "E02", "2020-06-01", "active", "Twin", "", "", "", "", ""], "employee_id", "duplicate of an earlier row (employee_id)"),
        (["E93", "x@example.com", "E01", "2020-01-01", "maybe", "Unsure", "", "", "", "", ""], "status", "status is not one of: active, leave, left"),
        (["E94", "not-an-email", "E01", "2020-01-01", "active", "Nomail", "", "", "", "", ""], "email", "email is not an email address"),
        (["E95", "x@example.com", "E01", "2020-01-01", "left", "Back", "", "", "", "2019-01-01", "voluntary"], "exit_date", "exit_date is before hire_date"),
    ],
)
def test_each_kind_of_bad_employee_row_is_quarantined_with_its_reason(conn, tmp_path, row, column, reason):
    folder = write_drop(tmp_path / "d", with_employees([row]))
    report = ingest_folder(conn, folder, OPTIONS)
    assert quarantine(conn, "employees.csv") == [(22, column, reason)]
    assert report.rows_quarantined == 1
    assert count(conn, "employees") == 20


def test_wrong_types_in_event_files_are_quarantined_and_the_rest_loads(conn, tmp_path):
    files = tiny_org()
    files["performance.csv"] += "E05,2026-01-01,excellent\nE404,2026-01-01,4\nE06,2026-01-02,9\n"
    files["autonomy_survey.csv"] += "E05,2026-01-01,freedom,high\nE05,2026-01-02,freedom,3.5\n"
    folder = write_drop(tmp_path / "d", files)
    ingest_folder(conn, folder, OPTIONS)
    n_perf = tiny_org()["performance.csv"].count("\n")
    assert quarantine(conn, "performance.csv") == [
        (n_perf + 1, "rating", "rating is not a number"),
        (n_perf + 2, "employee_id", "employee_id not found in employees"),
        (n_perf + 3, "rating", "rating is out of range"),
    ]
    n_survey = tiny_org()["autonomy_survey.csv"].count("\n")
    assert quarantine(conn, "autonomy_survey.csv") == [
        (n_survey + 1, "score", "score is not a number"),
        (n_survey + 2, "score", "score is not a whole number"),
    ]
    assert count(conn, "performance") == n_perf - 1


def test_duplicate_events_are_quarantined_once(conn, tmp_path):
    files = tiny_org()
    first_event = files["recognition.csv"].splitlines()[1]
    files["recognition.csv"] += first_event + "\n"
    folder = write_drop(tmp_path / "d", files)
    ingest_folder(conn, folder, OPTIONS)
    rows = quarantine(conn, "recognition.csv")
    assert len(rows) == 1 and rows[0][2].startswith("duplicate of an earlier row")


def test_broken_lines_are_quarantined_with_their_physical_line_numbers(conn, tmp_path):
    files = tiny_org()
    files["recognition.csv"] = (
        "recipient_id,given_at,giver_id,points,channel,message\n"
        'E05,2026-01-05 10:00:00,E02,5,slack,"two\nlines"\n'
        "E06,2026-01-06\n"
        "\n"
        "E06,2026-01-07 10:00:00,E02,5,slack,fine,extra\n"
        "E06,2026-01-08 10:00:00,E02,5,slack,fine\n"
    )
    folder = write_drop(tmp_path / "d", files)
    ingest_folder(conn, folder, IngestOptions(today=TODAY, max_reject_share=0.9))
    assert [(line, reason) for line, _, reason in quarantine(conn, "recognition.csv")] == [
        (4, "too few fields on this line"),
        (6, "too many fields on this line"),
    ]
    loaded = conn.execute("select recipient_id, _line from recognition order by _line").fetchall()
    assert loaded == [("E05", 2), ("E06", 7)]


def test_invalid_utf8_is_quarantined(conn, tmp_path):
    files: dict[str, str | bytes] = dict(tiny_org())
    files["recognition.csv"] = (
        b"recipient_id,given_at,giver_id,points,channel,message\n"
        b"E05,2026-01-05 10:00:00,E02,5,slack,caf\xe9\n"
        b"E06,2026-01-06 10:00:00,E02,5,slack,ok\n"
    )
    folder = write_drop(tmp_path / "d", files)
    ingest_folder(conn, folder, IngestOptions(today=TODAY, max_reject_share=0.9))
    assert quarantine(conn, "recognition.csv") == [(2, None, "not valid UTF-8")]
    assert count(conn, "recognition") == 1


def test_recognition_messages_are_never_stored(conn, drop):
    ingest_folder(conn, drop, OPTIONS)
    columns = [r[0] for r in conn.execute("describe recognition").fetchall()]
    assert "message" not in columns
    dump = conn.execute("select string_agg(cast(columns(*) as varchar), '|') from recognition").fetchall()
    assert "Thanks for the help" not in str(dump)


def test_sensitive_values_are_not_copied_into_quarantine(conn, tmp_path):
    files = with_employees([["E96", "bad address@", "E01", "2020-01-01", "active", "Secret Name", "", "", "", "", ""]])
    folder = write_drop(tmp_path / "d", files)
    ingest_folder(conn, folder, OPTIONS)
    assert conn.execute("select value from quarantine").fetchall() == [(None,)]


def test_bom_and_mapped_headers_are_understood(conn, tmp_path):
    files = tiny_org()
    header, rest = files["employees.csv"].split("\n", 1)
    files["employees.csv"] = "\ufeff" + header.replace("employee_id", "Employee Number").replace("hire_date", "HireDate") + "\n" + rest
    folder = write_drop(tmp_path / "d", files)
    options = IngestOptions(today=TODAY, columns={"employees": {"employee_id": "employee number", "hire_date": "HireDate"}})
    ingest_folder(conn, folder, options)
    assert count(conn, "employees") == 20


def test_jsonl_and_parquet_files_load_with_line_and_row_numbers(conn, tmp_path):
    files: dict[str, str | bytes] = dict(tiny_org())
    del files["autonomy_survey.csv"], files["performance.csv"]
    files["autonomy_survey.jsonl"] = (
        json.dumps({"employee_id": "E05", "responded_at": "2026-01-05", "item": "freedom", "score": 4}) + "\n"
        + "{not json\n"
        + json.dumps({"employee_id": "E05", "responded_at": "2026-01-06", "item": "voice", "score": 9}) + "\n"
    )
    folder = write_drop(tmp_path / "d", files)
    pq.write_table(
        pa.table({"employee_id": ["E05", "E06"], "review_date": ["2026-01-01", "someday"], "rating": [4.5, 3.0]}),
        folder / "performance.parquet",
    )
    ingest_folder(conn, folder, IngestOptions(today=TODAY, max_reject_share=0.9))
    assert quarantine(conn, "autonomy_survey.jsonl") == [(2, None, "not valid JSON"), (3, "score", "score is out of range")]
    assert quarantine(conn, "performance.parquet") == [(2, "review_date", "review_date is not a date")]
    assert count(conn, "autonomy_survey") == 1 and count(conn, "performance") == 1


def test_unchanged_reingest_changes_nothing(conn, drop):
    ingest_folder(conn, drop, OPTIONS)
    before = conn.execute("select count(*), sum(_line) from recognition").fetchone()
    report = ingest_folder(conn, drop, OPTIONS)
    assert {f.status for f in report.files} == {"unchanged"}
    assert conn.execute("select count(*), sum(_line) from recognition").fetchone() == before


def test_an_unchanged_file_is_not_read_again(conn, drop, monkeypatch):
    ingest_folder(conn, drop, OPTIONS)

    def must_not_hash(path):
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr("pipelines.ingest.load.scan_file", must_not_hash)
    report = ingest_folder(conn, drop, OPTIONS)
    assert {f.status for f in report.files} == {"unchanged"}


def test_a_touched_but_identical_file_is_recognised_by_its_hash(conn, drop):
    ingest_folder(conn, drop, OPTIONS)
    path = drop / "recognition.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    report = ingest_folder(conn, drop, OPTIONS)
    assert [f.status for f in report.files if f.path == "recognition.csv"] == ["unchanged"]
    stored = conn.execute("select mtime_ns from ingested_files where path = 'recognition.csv'").fetchone()[0]
    assert stored == path.stat().st_mtime_ns


def test_changed_file_replaces_its_rows_without_duplicates(conn, drop):
    ingest_folder(conn, drop, OPTIONS)
    path = drop / "recognition.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-5]) + "\n")
    report = ingest_folder(conn, drop, OPTIONS)
    assert [f.status for f in report.files if f.path == "recognition.csv"] == ["loaded"]
    assert count(conn, "recognition") == len(lines) - 6


def test_a_failure_mid_ingest_leaves_the_previous_data_intact(conn, drop):
    ingest_folder(conn, drop, OPTIONS)
    snapshot = {t: count(conn, t) for t in ("employees", "performance", "recognition", "ingested_files")}
    # employees changes (loads first), then recognition is wholly unusable: all or nothing.
    (drop / "employees.csv").write_text((drop / "employees.csv").read_text().replace("E20,", "E21,"))
    (drop / "recognition.csv").write_text("recipient_id,given_at\n" + "nobody,never\n" * 10)
    with pytest.raises(IngestError, match="recognition.csv"):
        ingest_folder(conn, drop, OPTIONS)
    assert {t: count(conn, t) for t in snapshot} == snapshot
    assert conn.execute("select count(*) from employees where employee_id = 'E21'").fetchone() == (0,)


def test_missing_required_file_is_named(conn, tmp_path):
    files = tiny_org()
    del files["one_on_ones.csv"]
    folder = write_drop(tmp_path / "d", files)
    with pytest.raises(IngestError, match="one_on_ones"):
        ingest_folder(conn, folder, OPTIONS)
    assert count(conn, "employees") == 0


def test_missing_required_column_is_named_with_the_file(conn, tmp_path):
    files = tiny_org()
    files["performance.csv"] = files["performance.csv"].replace("rating", "score_value")
    folder = write_drop(tmp_path / "d", files)
    with pytest.raises(IngestError, match=r"performance.csv: line 1: missing required column\(s\) rating"):
        ingest_folder(conn, folder, OPTIONS)


def test_empty_file_is_a_clear_error(conn, tmp_path):
    files = tiny_org()
    files["performance.csv"] = ""
    folder = write_drop(tmp_path / "d", files)
    with pytest.raises(IngestError, match="performance.csv: the file is empty"):
        ingest_folder(conn, folder, OPTIONS)


def test_a_later_drop_may_carry_only_new_event_files(conn, drop, tmp_path):
    ingest_folder(conn, drop, OPTIONS)
    weekly = write_drop(tmp_path / "week", {"recognition/2026-W48.csv": "recipient_id,given_at\nE05,2026-11-24 09:00:00\n"})
    report = ingest_folder(conn, weekly, OPTIONS)
    assert [(f.path, f.rows_loaded) for f in report.files] == [("recognition/2026-W48.csv", 1)]


def test_files_outside_the_contract_are_listed_as_ignored(conn, drop):
    (drop / "notes.txt").write_text("hello")
    (drop / "_truth").mkdir()
    (drop / "_truth" / "ground_truth.csv").write_text("x")
    report = ingest_folder(conn, drop, OPTIONS)
    assert report.ignored == ["notes.txt"]


def test_an_empty_manager_marks_the_top_of_the_hierarchy(conn, tmp_path):
    files = tiny_org()
    files["employees.csv"] = files["employees.csv"].replace("ceo@example.com,E01,", "ceo@example.com,,")
    ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)
    assert conn.execute("select manager_id from employees where employee_id = 'E01'").fetchall() == [(None,)]
    assert count(conn, "quarantine") == 0


def test_a_header_only_event_file_is_a_warning_and_loads_nothing(conn, tmp_path):
    files = tiny_org()
    files["performance.csv"] = "employee_id,review_date,rating\n"
    report = ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)
    assert [(f.status, f.rows_loaded) for f in report.files if f.source == "performance"] == [("empty", 0)]
    assert report.warnings == [
        "performance.csv: no data rows (only a header); the store has no performance rows from it."
        " An empty export is usually a failed one"
    ]


def test_a_header_only_export_keeps_the_rows_its_previous_version_loaded(conn, drop):
    ingest_folder(conn, drop, OPTIONS)
    before = count(conn, "performance")
    (drop / "performance.csv").write_text("employee_id,review_date,rating\n", encoding="utf-8")
    report = ingest_folder(conn, drop, OPTIONS)
    assert count(conn, "performance") == before > 0
    assert f"kept the {before:,} rows its previous version loaded" in report.warnings[0]
    # The empty version is not recorded: the next real export of the file loads.
    write_drop(drop, {"performance.csv": tiny_org()["performance.csv"] + "E05,2026-11-20,5\n"})
    assert [f.status for f in ingest_folder(conn, drop, OPTIONS).files if f.source == "performance"] == ["loaded"]
    assert count(conn, "performance") == before + 1


def test_a_field_too_long_for_any_value_is_named_as_such(conn, tmp_path):
    files = tiny_org()
    lines = files["recognition.csv"].splitlines()
    lines.insert(3, "E05,2026-01-05 10:00:00,E02,10,slack," + '"' + "x" * (3 * 1024 * 1024) + '"')
    files["recognition.csv"] = "\n".join(lines) + "\n"
    ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)
    assert quarantine(conn, "recognition.csv") == [(4, None, "field too long (over 128 KiB)")]


def test_a_header_only_roster_is_an_error(conn, tmp_path):
    files = tiny_org()
    files["employees.csv"] = files["employees.csv"].split("\n", 1)[0] + "\n"
    with pytest.raises(IngestError, match="roster cannot be empty"):
        ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)


def us_dates(text: str) -> str:
    return re.sub(r"\b(\d{4})-(\d\d)-(\d\d)\b", r"\2/\3/\1", text)


def test_non_iso_dates_load_with_a_configured_date_format(conn, tmp_path):
    files = tiny_org()
    files["performance.csv"] = us_dates(files["performance.csv"])
    ingest_folder(conn, write_drop(tmp_path / "d", files), IngestOptions(today=TODAY, date_format="%m/%d/%Y"))
    assert count(conn, "quarantine") == 0 and count(conn, "performance") == 36


def test_a_file_of_unparsed_dates_suggests_date_format(conn, tmp_path):
    files = tiny_org()
    files["performance.csv"] = us_dates(files["performance.csv"])
    with pytest.raises(IngestError, match=r"First at line 2: review_date is not a date.*date_format"):
        ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)


def test_semicolons_and_crlf_line_endings_are_understood(conn, tmp_path):
    files = {name: text.replace(",", ";").replace("\n", "\r\n") for name, text in tiny_org().items()}
    files["one_on_ones.csv"] = files["one_on_ones.csv"].replace("career;goals", '"career;goals"')
    ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)
    assert count(conn, "quarantine") == 0 and count(conn, "employees") == 20


def test_a_file_without_a_header_row_never_echoes_its_first_row(conn, tmp_path):
    files = tiny_org()
    files["employees.csv"] = files["employees.csv"].split("\n", 1)[1]
    with pytest.raises(IngestError) as err:
        ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)
    message = str(err.value)
    assert "does not look like a header row" in message
    assert "ceo@example.com" not in message and "Casey" not in message


def test_a_missing_column_lists_the_headers_found(conn, tmp_path):
    files = tiny_org()
    files["performance.csv"] = files["performance.csv"].replace("rating", "Score Value")
    with pytest.raises(IngestError, match="found columns: employee_id, review_date, Score Value"):
        ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)


def test_configured_extra_hris_columns_are_kept_per_person(conn, tmp_path):
    files = tiny_org()
    header, *rows = files["employees.csv"].strip().split("\n")
    files["employees.csv"] = "\n".join([header + ",Job Level"] + [r + f",{i % 4}" for i, r in enumerate(rows)]) + "\n"
    ingest_folder(conn, write_drop(tmp_path / "d", files), IngestOptions(today=TODAY, extra_columns=("job level",)))
    stored = conn.execute("select count(*), count(distinct value) from employee_attributes where name = 'job level'")
    assert stored.fetchall() == [(20, 4)]


def test_a_configured_extra_column_missing_from_the_file_is_named(conn, drop):
    with pytest.raises(IngestError, match="extra_columns names high_potential"):
        ingest_folder(conn, drop, IngestOptions(today=TODAY, extra_columns=("high_potential",)))


def test_a_csv_duckdb_cannot_read_is_read_line_by_line_and_loaded_once(conn, tmp_path):
    files = tiny_org()
    good = "E06,2026-01-06 10:00:00,E02,5,slack,fine\n"
    files["recognition.csv"] = (
        "recipient_id,given_at,giver_id,points,channel,message\n"
        + good.replace("06 10", "06 11")
        + good.replace("06 10", "06 12")
        + '"E05,2026-01-05 10:00:00,E02,5,slack,never closed\n'
        + good
    )
    folder = write_drop(tmp_path / "d", files)
    report = ingest_folder(conn, folder, IngestOptions(today=TODAY, max_reject_share=0.9))
    assert conn.execute("select _line from recognition order by _line").fetchall() == [(2,), (3,)]
    assert [line for line, _, _ in quarantine(conn, "recognition.csv")] == [4]
    # The retry after DuckDB gave up started from a clean slate: every other file loaded once.
    assert count(conn, "employees") == 20
    assert conn.execute("select count(*) from ingested_files").fetchone()[0] == len(report.files)


def test_every_ingest_records_its_run_in_the_store(conn, drop):
    """The demo's guard reads these rows, so an ingest leaves one whoever called it (the CLI, the flow)."""
    first = ingest_folder(conn, drop, OPTIONS)
    again = ingest_folder(conn, drop, OPTIONS)
    rows = conn.execute("select run_id, week, status, summary, started_at <= finished_at from runs where kind = 'ingest'")
    runs = {run_id: (week, status, json.loads(summary), ordered) for run_id, week, status, summary, ordered in rows.fetchall()}
    folder = str(drop.resolve())
    assert runs == {
        first.run_id: (None, "completed", {"folder": folder, "files_loaded": 6, "rows_loaded": first.rows_loaded,
                                            "rows_quarantined": 0}, True),
        again.run_id: (None, "completed", {"folder": folder, "files_loaded": 0, "rows_loaded": 0,
                                            "rows_quarantined": 0}, True),
    }


def test_a_failed_ingest_records_no_run(conn, tmp_path):
    files = tiny_org()
    del files["performance.csv"]
    with pytest.raises(IngestError, match="missing required file"):
        ingest_folder(conn, write_drop(tmp_path / "d", files), OPTIONS)
    assert count(conn, "runs") == 0
