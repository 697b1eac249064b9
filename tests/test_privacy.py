"""Data rights on the 20-person org: opt-out, explain, forget, and the retention purge.

Real DuckDB files and the real weekly run (the `--direct` stages); no mocks.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from core.errors import ConfigError, PrivacyError
from pipelines.cli import app
from pipelines.config import load_settings
from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.privacy.explain import (
    ExplainOptions,
    explain,
    explanation_html,
    explanation_text,
)
from pipelines.privacy.forget import forget
from pipelines.privacy.optout import add_opt_outs, sync_opt_out_file
from pipelines.privacy.retention import compact_store, purge_old_events
from pipelines.settings import Settings
from pipelines.store import connect
from pipelines.training import training_data
from pipelines.weekly.plan import plan_week, score_stage
from pipelines.weekly.run import run_week
from pipelines.weeks import IsoWeek
from tests.conftest import TODAY, WEEK, tiny_org, write_drop

NEXT_WEEK = "2026-W49"
runner = CliRunner()


def settings_for(tmp_path: Path, **sections: dict[str, object]) -> Settings:
    return Settings(
        delivery={"outbox_dir": tmp_path / "outbox"},
        store={"path": tmp_path / "retention.duckdb"},
        report={"dir": tmp_path / "reports"},
        **sections,
    )


@pytest.fixture
def ingested(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    return conn


@pytest.fixture
def ran(ingested, tmp_path):
    """The tiny org ingested and week 2026-W48 run: nudges, decisions and digests exist."""
    run_week(ingested, settings_for(tmp_path), IsoWeek.parse(WEEK))
    return ingested


def person(employee_id: str) -> dict[str, str]:
    """The id, name and email the tiny org gives a person."""
    name = "Casey Ceo" if employee_id == "E01" else (
        f"Manager {employee_id}" if employee_id in {"E02", "E03", "E04"} else f"Person {employee_id}"
    )
    email = "ceo@example.com" if employee_id == "E01" else f"{employee_id.lower()}@example.com"
    return {"id": employee_id, "name": name, "email": email}


EVERYONE = [f"E{n:02d}" for n in range(1, 21)]


def mentions(text: str, employee_id: str) -> list[str]:
    """Which of a person's id, name and email appear in `text` (the id as a whole word)."""
    p = person(employee_id)
    found = [k for k in ("name", "email") if p[k] in text]
    if re.search(rf"(?<![A-Za-z0-9]){p['id']}(?![A-Za-z0-9])", text):
        found.append("id")
    return found


def rows_mentioning(conn: duckdb.DuckDBPyConnection, needles: list[str]) -> dict[str, int]:
    """Every column of every table, as text, searched for each needle: table.column -> rows."""
    found: dict[str, int] = {}
    columns = conn.execute(
        "select table_name, column_name from information_schema.columns"
        " where table_catalog = current_database() and table_schema = 'main'"
    ).fetchall()
    for table, column in columns:
        for needle in needles:
            n = conn.execute(
                f'select count(*) from "{table}" where contains(cast("{column}" as varchar), ?)', [needle]
            ).fetchall()[0][0]
            if n:
                found[f"{table}.{column} ~ {needle}"] = n
    return found


def files_mentioning(folder: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        for needle in needles:
            if needle in path.name or (path.is_file() and needle.encode() in path.read_bytes()):
                hits.append(f"{path.relative_to(folder)} ~ {needle}")
    return hits


def explain_options(settings: Settings) -> ExplainOptions:
    return ExplainOptions(actor="hr-tester", score=lambda features: score_stage(features, settings))


# --- opt-out ---------------------------------------------------------------------------------


def test_an_opted_out_star_is_never_scored_selected_named_or_trained_on(ingested, tmp_path):
    opt_out = tmp_path / "opt-out.txt"
    opt_out.write_text("# people who asked to be left out\nE05\n", encoding="utf-8")
    settings = settings_for(tmp_path, privacy={"opt_out_file": opt_out})
    run_week(ingested, settings, IsoWeek.parse(WEEK))

    plan = plan_week(ingested, settings, IsoWeek.parse(WEEK))
    assert "E05" not in set(plan.features["employee_id"]) and "E05" not in set(plan.scores.employee_id)
    assert "E06" in set(plan.scores.employee_id)
    assert ingested.execute("select count(*) from decisions where employee_id = 'E05'").fetchall() == [(0,)]
    assert ingested.execute("select count(*) from nudges where employee_id = 'E05'").fetchall() == [(0,)]
    bodies = ingested.execute("select html, decode(message) from outbox").fetchall()
    assert bodies and not any(mentions(html + message, "E05") for html, message in bodies)
    assert not files_mentioning(tmp_path / "outbox", ["Person E05"])
    # Still nudged without the opt-out: the test would notice if E05 were never a candidate.
    assert ingested.execute("select count(*) from nudges where employee_id = 'E11'").fetchall() == [(1,)]

    # What `model train` and the retrain flow train on: the opted-out ids reach the training set.
    trained_on = set(training_data(ingested, settings_for(tmp_path, model={"horizon_days": 120})).frame["employee_id"])
    assert "E05" not in trained_on and "E06" in trained_on


def test_an_opted_out_manager_still_receives_their_reports_digest(ingested, tmp_path):
    add_opt_outs(ingested, ["E02"], actor="hr")
    run_week(ingested, settings_for(tmp_path), IsoWeek.parse(WEEK))
    recipients = ingested.execute("select manager_id from nudges where employee_id = 'E05'").fetchall()
    assert recipients == [("E02",)]


def test_an_opt_out_csv_with_an_employee_id_header_is_read(ingested, tmp_path):
    path = tmp_path / "opt-out.csv"
    path.write_text("employee_id,requested\nE05,2026-01-02\nE07,2026-02-03\n", encoding="utf-8")
    result = sync_opt_out_file(ingested, path)
    assert result is not None and result.added == 2
    assert ingested.execute("select employee_id, source from opt_out order by 1").fetchall() == [
        ("E05", "file"), ("E07", "file")
    ]


def test_a_bad_line_in_the_opt_out_file_names_file_and_line_and_keeps_the_good_ids(ingested, tmp_path):
    path = tmp_path / "opt-out.csv"
    path.write_text("employee_id\nE05\n\nE06,extra\n,\nE07\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"opt-out\.csv: line 5: no employee_id value"):
        sync_opt_out_file(ingested, path)
    assert ingested.execute("select employee_id from opt_out order by 1").fetchall() == [("E05",), ("E06",), ("E07",)]


def test_a_plain_opt_out_file_with_two_values_on_a_line_names_the_line(ingested, tmp_path):
    path = tmp_path / "opt-out.txt"
    path.write_text("E05\nE06, E07\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"opt-out\.txt: line 2: more than one value"):
        sync_opt_out_file(ingested, path)
    assert ingested.execute("select employee_id from opt_out").fetchall() == [("E05",)]


def test_an_id_removed_from_the_opt_out_file_is_opted_back_in_but_cli_entries_stay(ingested, tmp_path):
    path = tmp_path / "opt-out.txt"
    path.write_text("E05\nE06\n", encoding="utf-8")
    sync_opt_out_file(ingested, path)
    add_opt_outs(ingested, ["E07"], actor="hr")
    path.write_text("E06\n", encoding="utf-8")
    result = sync_opt_out_file(ingested, path)
    assert result is not None and result.removed == 1
    assert ingested.execute("select employee_id from opt_out order by 1").fetchall() == [("E06",), ("E07",)]


# --- explain ---------------------------------------------------------------------------------


@pytest.mark.parametrize("employee_id", ["E05", "E02"], ids=["a-nudged-star", "their-manager"])
def test_explain_shows_only_that_person(ran, tmp_path, employee_id):
    explanation = explain(ran, employee_id, explain_options(settings_for(tmp_path)))
    text, page = explanation_text(explanation), explanation_html(explanation)
    for shown in (text, page):
        assert set(mentions(shown, employee_id)) == {"id", "name", "email"}
        others = {e: mentions(shown, e) for e in EVERYONE if e != employee_id}
        assert not any(others.values()), others
    if employee_id == "E05":
        assert "engagement_plan" in text and "their manager" in text


def test_explain_html_escapes_what_the_hris_sent(ran, tmp_path):
    ran.execute("update employees set name = '<script>alert(1)</script>' where employee_id = 'E05'")
    page = explanation_html(explain(ran, "E05", explain_options(settings_for(tmp_path))))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_explain_lists_sources_with_counts_and_dates(ran, tmp_path):
    explanation = explain(ran, "E05", explain_options(settings_for(tmp_path)))
    held = {h.table: h for h in explanation.held}
    assert held["recognition"].rows == 15 and held["recognition"].first is not None
    assert held["one_on_ones"].rows == 52 and held["nudges"].rows == 1
    assert explanation.risk is not None and {d.name for d in explanation.drivers} >= {"recognition", "career"}


def test_explain_withholds_survey_answers_even_from_hr(ran, tmp_path):
    explanation = explain(ran, "E05", explain_options(settings_for(tmp_path)))
    values = {v.name: v for v in explanation.features + explanation.drivers}
    for name in ("autonomy_latest", "voice_latest", "growth_latest", "autonomy"):
        assert values[name].value is None and "survey" in values[name].note
    assert values["recognition_90d"].value == "0"


def test_explain_writes_an_audit_row(ran, tmp_path):
    explain(ran, "E05", explain_options(settings_for(tmp_path)))
    rows = ran.execute("select actor, action, detail from audit").fetchall()
    assert len(rows) == 1
    actor, action, detail = rows[0]
    assert (actor, action, json.loads(detail)["employee_id"]) == ("hr-tester", "explain", "E05")


def test_explain_of_an_unknown_id_names_it(ran, tmp_path):
    with pytest.raises(PrivacyError, match="'E99'"):
        explain(ran, "E99", explain_options(settings_for(tmp_path)))


# --- forget ----------------------------------------------------------------------------------


@pytest.mark.parametrize("employee_id", ["E05", "E02"], ids=["a-nudged-star", "their-manager"])
def test_forget_leaves_no_trace_in_the_store_the_outbox_or_the_file(ran, tmp_path, store_path, employee_id):
    p = person(employee_id)
    needles = [p["id"], p["name"], p["email"]]
    explain(ran, employee_id, explain_options(settings_for(tmp_path)))
    ran.execute("checkpoint")
    assert rows_mentioning(ran, needles) and files_mentioning(tmp_path / "outbox", [p["name"]])
    assert p["name"].encode() in store_path.read_bytes()  # the byte check below can see a name

    forget(ran, employee_id, tmp_path / "outbox", actor="hr")
    ran.close()
    compact_store(store_path)

    assert not store_path.with_name(store_path.name + ".wal").exists()
    raw = store_path.read_bytes()
    assert not [n for n in needles if n.encode() in raw]
    conn = connect(store_path)
    try:
        assert rows_mentioning(conn, needles) == {}
    finally:
        conn.close()
    assert files_mentioning(tmp_path / "outbox", needles) == []


def test_forget_moves_their_reports_to_the_skip_level_manager(ran, tmp_path):
    report = forget(ran, "E02", tmp_path / "outbox", actor="hr")
    assert report.reports_moved == 5
    managers = dict(ran.execute("select employee_id, manager_id from employees where employee_id in ('E05', 'E09')").fetchall())
    assert managers == {"E05": "E01", "E09": "E01"}
    people_before = ran.execute("select people from week_stats where week = ?", [WEEK]).fetchall()[0][0]
    later = run_week(ran, settings_for(tmp_path), IsoWeek.parse(NEXT_WEEK))
    assert later.people == people_before - 1
    routed = ran.execute("select recipient_id from decisions where week = ? and employee_id = 'E05'", [NEXT_WEEK]).fetchall()
    assert routed == [("E01",)]


def test_forget_redacts_other_managers_digests_keeping_the_count(ran, tmp_path):
    before = ran.execute("select nudge_count from outbox where manager_id = 'E02'").fetchall()
    report = forget(ran, "E05", tmp_path / "outbox", actor="hr")
    assert report.digests_redacted == 1 and report.files_redacted == 2
    html, count = ran.execute("select html, nudge_count from outbox where manager_id = 'E02'").fetchall()[0]
    assert [(count,)] == before and "erased at their request" in html
    assert "erased at their request" in (tmp_path / "outbox" / WEEK / "E02.html").read_text()


def test_an_unsent_digest_naming_a_forgotten_person_is_withdrawn_not_sent(ran, tmp_path):
    ran.execute("update outbox set state = 'queued' where manager_id = 'E02'")
    forget(ran, "E05", tmp_path / "outbox", actor="hr")
    assert ran.execute("select state from outbox where manager_id = 'E02'").fetchall() == [("withdrawn",)]


def test_rerunning_the_week_never_writes_or_marks_sent_a_withdrawn_digest(ran, tmp_path):
    ran.execute("update outbox set state = 'queued' where manager_id = 'E02'")
    forget(ran, "E05", tmp_path / "outbox", actor="hr")
    for path in (tmp_path / "outbox" / WEEK).glob("E02.*"):
        path.unlink()
    run_week(ran, settings_for(tmp_path), IsoWeek.parse(WEEK))
    assert ran.execute("select state from outbox where manager_id = 'E02'").fetchall() == [("withdrawn",)]
    assert list((tmp_path / "outbox" / WEEK).glob("E02.*")) == []


def test_a_forgotten_person_is_not_brought_back_by_a_changed_drop_file(ran, tmp_path):
    forget(ran, "E02", tmp_path / "outbox", actor="hr")
    files = tiny_org()
    files["employees.csv"] += "E21,e21@example.com,E02,2024-01-01,active,Person E21,Engineering,Engineer,Remote,,\n"
    files["recognition.csv"] += f"E06,{TODAY - timedelta(days=2)} 09:00:00,E02,5,slack,thanks\n"
    ingest_folder(ran, write_drop(tmp_path / "drop", files), IngestOptions(today=TODAY))
    p = person("E02")
    assert rows_mentioning(ran, [p["id"], p["name"], p["email"]]) == {}
    managers = dict(ran.execute("select employee_id, manager_id from employees where employee_id in ('E05', 'E21')").fetchall())
    assert managers == {"E05": "E01", "E21": "E01"}
    assert ran.execute("select count(*) from recognition where recipient_id = 'E06' and giver_id is null").fetchall()[0][0] > 0


def test_the_forget_audit_row_holds_counts_but_no_id_or_name(ran, tmp_path):
    explain(ran, "E05", explain_options(settings_for(tmp_path)))
    forget(ran, "E05", tmp_path / "outbox", actor="hr")
    rows = ran.execute("select action, detail from audit order by audited_at").fetchall()
    assert [a for a, _ in rows] == ["explain", "forget"]
    for _, detail in rows:
        assert not mentions(detail, "E05")
    counts = json.loads(rows[1][1])
    assert counts["deleted"]["nudges"] == 1 and counts["digests_redacted"] == 1


def test_a_dry_run_of_forget_counts_but_changes_nothing(ran, tmp_path):
    before = rows_mentioning(ran, ["E05"])
    report = forget(ran, "E05", tmp_path / "outbox", actor="hr", dry_run=True)
    assert report.rows_deleted > 0
    assert rows_mentioning(ran, ["E05"]) == before
    assert ran.execute("select count(*) from audit").fetchall() == [(0,)]


def test_a_compacted_store_keeps_its_schema_and_constraints(ran, tmp_path, store_path):
    constraints = ran.execute("select count(*) from duckdb_constraints()").fetchall()
    ran.close()
    compact_store(store_path)
    conn = connect(store_path)
    try:
        assert conn.execute("select count(*) from duckdb_constraints()").fetchall() == constraints
        again = run_week(conn, settings_for(tmp_path), IsoWeek.parse(WEEK))
        assert again.digests_new == 0 and again.digests_existing > 0
    finally:
        conn.close()


# --- retention -------------------------------------------------------------------------------


def test_purge_deletes_old_events_and_keeps_recent_ones(ingested):
    cutoff = TODAY - timedelta(days=200)
    old = ingested.execute("select count(*) from recognition where given_at < ?", [cutoff]).fetchall()[0][0]
    recent = ingested.execute("select count(*) from recognition where given_at >= ?", [cutoff]).fetchall()[0][0]
    assert old and recent
    deleted = purge_old_events(ingested, TODAY, 200)
    assert deleted["recognition"] == old and deleted["one_on_ones"] > 0 and deleted["autonomy_survey"] > 0
    assert ingested.execute("select count(*) from recognition").fetchall() == [(recent,)]
    assert ingested.execute("select min(scheduled_at) from one_on_ones").fetchall()[0][0].date() >= cutoff
    assert ingested.execute("select count(*) from employees").fetchall() == [(20,)]


def test_performance_reviews_and_promotions_are_hr_records_and_are_kept(ingested):
    before = ingested.execute("select (select count(*) from performance), (select count(*) from promotions)").fetchall()
    deleted = purge_old_events(ingested, TODAY, 90)
    assert "performance" not in deleted and "promotions" not in deleted
    assert ingested.execute("select (select count(*) from performance), (select count(*) from promotions)").fetchall() == before


def test_the_weekly_run_purges_events_past_keep_days(ingested, tmp_path):
    cutoff = TODAY - timedelta(days=200)
    keep_days = max(90, (date.today() - cutoff).days)
    run_week(ingested, settings_for(tmp_path, retention={"keep_days": keep_days}), IsoWeek.parse(WEEK))
    oldest = ingested.execute("select min(given_at) from recognition").fetchall()[0][0]
    assert oldest.date() >= date.today() - timedelta(days=keep_days)


def test_keep_days_zero_keeps_everything_and_under_90_is_refused(in_tmp):
    (in_tmp / "retention.toml").write_text("[retention]\nkeep_days = 0\n", encoding="utf-8")
    assert load_settings().retention.keep_days is None
    (in_tmp / "retention.toml").write_text("[retention]\nkeep_days = 30\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="retention.keep_days"):
        load_settings()


# --- the commands ----------------------------------------------------------------------------


@pytest.fixture
def cli_store(in_tmp):
    """`retention ingest` then `retention run --direct` for 2026-W48, from the CLI."""
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    result = runner.invoke(app, ["run", "--week", WEEK, "--direct"])
    assert result.exit_code == 0, result.output
    return in_tmp


def test_the_explain_command_prints_the_page_and_writes_html(cli_store):
    result = runner.invoke(app, ["explain", "E05", "--html", "e05.html", "--actor", "hr-lead"])
    assert result.exit_code == 0, result.output
    assert "Person E05" in result.output and "engagement_plan" in result.output
    page = (cli_store / "e05.html").read_text()
    assert "Person E05" in page and not mentions(page, "E02")


def test_the_explain_command_with_an_unknown_id_is_one_line_and_exit_1(cli_store):
    result = runner.invoke(app, ["explain", "E99"])
    assert result.exit_code == 1 and "'E99'" in result.output and "Traceback" not in result.output


def test_the_forget_command_asks_first_and_does_nothing_when_refused(cli_store):
    result = runner.invoke(app, ["forget", "E05"], input="n\n")
    assert result.exit_code == 1 and "rows deleted" in result.output
    conn = connect(cli_store / "retention.duckdb")
    try:
        assert conn.execute("select count(*) from employees where employee_id = 'E05'").fetchall() == [(1,)]
    finally:
        conn.close()


def test_the_forget_command_with_yes_erases_and_explain_then_says_so(cli_store):
    result = runner.invoke(app, ["forget", "E05", "--yes"])
    assert result.exit_code == 0, result.output
    assert b"Person E05" not in (cli_store / "retention.duckdb").read_bytes()
    again = runner.invoke(app, ["explain", "E05"])
    assert again.exit_code == 1 and "was forgotten" in again.output


def test_the_opt_out_commands_add_list_and_remove(cli_store):
    assert runner.invoke(app, ["opt-out", "add", "E06", "E07"]).exit_code == 0
    listed = runner.invoke(app, ["opt-out", "list"])
    assert listed.exit_code == 0 and "2 people opted out" in listed.output and "E06" in listed.output
    removed = runner.invoke(app, ["opt-out", "remove", "E06"])
    assert removed.exit_code == 0 and "1 opted back in" in removed.output
    assert "1 person opted out" in runner.invoke(app, ["opt-out", "list"]).output


def test_forgetting_an_id_the_store_does_not_know_is_refused_and_records_nothing(ran, tmp_path):
    with pytest.raises(PrivacyError, match="holds nothing about employee id 'NOPE123'.*--force"):
        forget(ran, "NOPE123", tmp_path / "outbox", actor="hr")
    assert ran.execute("select count(*) from forgotten").fetchall() == [(0,)]
    assert ran.execute("select count(*) from audit where action = 'forget'").fetchall() == [(0,)]


def test_forgetting_an_unknown_id_with_force_keeps_them_out_of_later_files(ran, tmp_path):
    forget(ran, "E21", tmp_path / "outbox", actor="hr", force=True)
    files = tiny_org()
    files["performance.csv"] += "E21,2026-11-01,4.0\n"
    ingest_folder(ran, write_drop(tmp_path / "later", files), IngestOptions(today=TODAY))
    assert ran.execute("select count(*) from performance where employee_id = 'E21'").fetchall() == [(0,)]


def test_opting_out_an_id_not_on_the_roster_is_refused_without_force(ingested):
    with pytest.raises(PrivacyError, match="not on the roster: 'E99999'.*nobody was opted out"):
        add_opt_outs(ingested, ["E05", "E99999"], actor="hr")
    assert ingested.execute("select count(*) from opt_out").fetchall() == [(0,)]
    assert add_opt_outs(ingested, ["E05", "E99999"], actor="hr", force=True) == 2


def test_the_commands_refuse_unknown_ids_with_exit_1(cli_store):
    forgot = runner.invoke(app, ["forget", "NOPE123", "--yes"])
    assert forgot.exit_code == 1 and "holds nothing about employee id 'NOPE123'" in forgot.output
    opted = runner.invoke(app, ["opt-out", "add", "E99999"])
    assert opted.exit_code == 1 and "not on the roster" in opted.output
    assert runner.invoke(app, ["opt-out", "add", "E99999", "--force"]).exit_code == 0
