"""The `retention` command as a user meets it: help, errors, and the demo from an empty folder."""

from __future__ import annotations

import csv
import email
import json
import logging
import re
import tomllib
from email import policy
from pathlib import Path

import click
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import tiny_org, write_drop

runner = CliRunner()
# `retention run` and `retention demo` go through the Prefect flow: Prefect's test harness serves them.
flows = pytest.mark.usefixtures("prefect_harness")


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


ALL_COMMANDS = commands(typer.main.get_command(app))  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=[" ".join(p) for p, _ in ALL_COMMANDS])
def test_every_command_and_option_has_help_text(path, command):
    assert command.help and len(command.help) > 15
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_help_never_shows_a_type_on_a_flag():
    for path, _ in ALL_COMMANDS:
        result = runner.invoke(app, [*path, "--help"])
        assert "<bool>" not in result.output, path


def test_config_show_prints_toml_that_loads_back(in_tmp):
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0 and "null" not in result.output
    assert tomllib.loads(result.output)["nudges"]["per_manager"] == 3


def test_config_show_masks_secrets(in_tmp, monkeypatch):
    monkeypatch.setenv("RETENTION_SMTP__PASSWORD", "hunter2")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "hunter2" not in result.output and "**********" in result.output
    assert "[nudges]" in result.output


def test_a_bad_config_value_is_one_line_and_exit_1(in_tmp, monkeypatch):
    monkeypatch.setenv("RETENTION_NUDGES__PER_MANAGER", "many")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert "nudges.per_manager" in result.output and "Traceback" not in result.output


def test_ingest_of_a_missing_folder_names_it(in_tmp):
    result = runner.invoke(app, ["ingest", "nowhere"])
    assert result.exit_code == 1
    assert "drop folder nowhere does not exist" in result.output


def test_ingest_leaves_one_run_row_naming_its_folder(in_tmp):
    from pipelines.store import open_store

    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    with open_store(in_tmp / "retention.duckdb", read_only=True) as conn:
        rows = conn.execute("select kind, status, summary from runs").fetchall()
    assert [(kind, status, json.loads(summary)["folder"]) for kind, status, summary in rows] == [
        ("ingest", "completed", str((in_tmp / "drop").resolve()))
    ]


@flows
def test_run_before_any_ingest_explains_itself(in_tmp):
    result = runner.invoke(app, ["run", "--week", "2026-W48"])
    assert result.exit_code == 1
    assert "run `retention ingest DIR`" in result.output


@flows
def test_run_with_a_malformed_week_says_what_a_week_looks_like(in_tmp):
    result = runner.invoke(app, ["run", "--week", "48"])
    assert result.exit_code == 1 and "ISO week like 2026-W05" in result.output


@flows
def test_ingest_then_run_writes_the_outbox(in_tmp):
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    result = runner.invoke(app, ["run", "--week", "2026-W48"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (in_tmp / "outbox" / "2026-W48").glob("*.eml"))


@pytest.mark.slow
@flows
def test_demo_writes_one_parseable_digest_per_manager_with_nudges(in_tmp, caplog):
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(app, ["demo", "--employees", "300", "--months", "6"])
    assert result.exit_code == 0, result.output
    weeks = list((in_tmp / "outbox").iterdir())
    assert len(weeks) == 1 and re.fullmatch(r"\d{4}-W\d{2}", weeks[0].name)
    emls = sorted(weeks[0].glob("*.eml"))
    assert emls, result.output
    for path in emls:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert text.get_content().count("Ask them:") == html.get_content().count("Ask them")
        assert path.with_suffix(".html").is_file()
    assert "managers with a digest" in result.output and str(len(emls)) in result.output
    # Nothing a log or the terminal shows names a person or an address.
    with (in_tmp / "demo-data" / "employees.csv").open(encoding="utf-8") as fh:
        people = list(csv.DictReader(fh))
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("retention")]
    assert logged  # the stages do log, so the check below means something
    shown = result.output + "\n".join(logged)
    for person in people:
        for value in (person["name"], person["email"]):
            if value and len(value) > 3:
                assert value not in shown


@pytest.mark.slow
@flows
def test_running_the_demo_twice_sends_nothing_twice(in_tmp):
    first = runner.invoke(app, ["demo", "--employees", "200"])
    assert first.exit_code == 0, first.output
    # Off a terminal, training says what it is doing one line per step.
    assert "Training: [1/" in first.stderr and "candidate 1 of " in first.stderr and "validation window 1 of" in first.stderr
    before = {p: p.read_bytes() for p in (in_tmp / "outbox").rglob("*.eml")}
    assert before
    again = runner.invoke(app, ["demo", "--employees", "200"])
    assert again.exit_code == 0
    assert "already in the outbox" in again.output
    assert {p: p.read_bytes() for p in (in_tmp / "outbox").rglob("*.eml")} == before


SECTIONS = ("This week:", "Ask them:", "What we noticed:", "Why it matters:")


@pytest.mark.slow
@flows
def test_the_default_demo_digests_have_every_section_filled_and_an_hr_summary(in_tmp):
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    emls = list((in_tmp / "outbox").rglob("*.eml"))
    assert len(emls) > 10
    kinds = set()
    for path in emls:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        items = text.count("This week:")
        assert items >= 1, path.name
        for label in SECTIONS:
            lines = [line.split(label, 1)[1].strip(' ".') for line in text.splitlines() if label in line]
            assert len(lines) == items and all(len(line) > 10 for line in lines), (path.name, label)
        kinds.update(re.findall(r"^\d+\. .+ - (.+)$", text, flags=re.M))
    assert len(kinds) >= 3  # the digests are not one nudge for everybody
    assert list((in_tmp / "reports").rglob("hr-summary.html"))


@flows
def test_the_demo_refuses_a_store_holding_other_data(in_tmp):
    write_drop(in_tmp / "real", tiny_org())
    assert runner.invoke(app, ["ingest", "real"]).exit_code == 0
    result = runner.invoke(app, ["demo", "--employees", "50", "--months", "3"])
    assert result.exit_code == 1
    assert "will not mix" in result.output
    assert not Path("demo-data").exists()


IBM = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "ibm_hr_attrition.csv"
QUICK = ("--time-budget", "0.000001")  # only the simplest candidate: for tests about what surrounds the selection


@pytest.mark.slow
def test_model_benchmark_prints_json_with_the_promised_keys(in_tmp):
    ibm = ["model", "benchmark", str(IBM), "--label", "Attrition", "--positive", "Yes", "--folds", "3", "--json"]
    result = runner.invoke(app, [*ibm, *QUICK])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"selected", "roc_auc", "pr_auc", "brier", "candidates", "baselines", "warnings", "time_budget"} <= set(report)
    assert report["roc_auc"] > 0.8 and "Gender" in report["protected_excluded"]
    assert set(report["baselines"]) == {"logistic", "hist_gradient_boosting_default", "random_forest_300"}


def people_csv(path: Path, n: int = 160, *, copies: int = 0) -> Path:
    """A small table with an id, two protected columns, a person column with two rows each, and a label."""
    rng = np.random.default_rng(0)
    rows = ["staff_id,person,gender,age,rating,team,left"]
    for i in range(n):
        rating = int(rng.integers(1, 6))
        left = "yes" if rng.random() < 1 / (1 + np.exp(rating - 2.5)) else "no"
        rows.append(f"{i},p{i // 2},{rng.choice(['f', 'm'])},{rng.integers(20, 60)},{rating},{rng.choice(['a', 'b'])},{left}")
    rows += rows[1 : 1 + copies]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def benchmark(path: Path, *options: str):
    return runner.invoke(app, ["model", "benchmark", str(path), "--label", "left", "--positive", "yes", "--folds", "2", *options])



def test_model_benchmark_names_protected_columns_once(in_tmp):
    result = benchmark(people_csv(in_tmp / "people.csv"), *QUICK)
    assert result.exit_code == 0, result.output
    assert "Excluded as protected: gender, age" in result.stdout
    assert result.stdout.count("gender") == 1 and result.stdout.count("age") == 1
    assert "Left out: staff_id (identifier)" in result.stdout


def test_model_benchmark_prints_the_baselines_beside_the_selection(in_tmp):
    result = benchmark(people_csv(in_tmp / "people.csv"))
    for row in ("selected (", "baseline: logistic", "baseline: hist_gradient_boosting_default", "baseline: random_forest_300"):
        assert row in result.stdout
    assert "Selection vs best baseline" in result.stdout and "s CPU" in result.stdout


def test_model_benchmark_shows_one_line_per_step_off_a_terminal(in_tmp):
    result = benchmark(people_csv(in_tmp / "people.csv"))
    lines = [line for line in result.stderr.splitlines() if line.startswith("Benchmarking people.csv: [")]
    # 5 candidates x 2 folds, then per fold the calibrated choice and 3 baselines; in the order they finish.
    assert [line.split("]")[0] for line in lines] == [f"Benchmarking people.csv: [{i}/18" for i in range(1, 19)]
    steps = {line.split("] ", 1)[1] for line in lines}
    assert {f"candidate {i} of 5 ({name}), fold {k} of 2" for i, name in [(1, "logistic"), (5, "extra_trees")] for k in (1, 2)} <= steps
    assert {"baseline random_forest_300, fold 1 of 2", "baseline random_forest_300, fold 2 of 2"} <= steps


def test_model_benchmark_json_keeps_stderr_quiet_off_a_terminal(in_tmp):
    result = benchmark(people_csv(in_tmp / "people.csv"), "--json")
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["grouped"] is False


def test_model_benchmark_keeps_a_groups_rows_in_one_fold_and_says_so(in_tmp):
    result = benchmark(people_csv(in_tmp / "people.csv"), "--group", "person", "--json", *QUICK)
    report = json.loads(result.stdout)
    assert (report["grouped_by"], report["groups"], report["rows"]) == ("person", 80, 160)
    assert "person" not in report["dropped"]  # taken out as the group, never a feature


def test_model_benchmark_warns_of_duplicates_in_the_output_and_the_json(in_tmp):
    path = people_csv(in_tmp / "people.csv", copies=4)
    assert "warning: 4 of 164 rows (2.4%) repeat an earlier row exactly" in benchmark(path, *QUICK).stderr
    assert json.loads(benchmark(path, "--json", *QUICK).stdout)["warnings"][0]["kind"] == "duplicates"


def test_model_benchmark_stops_selection_at_the_time_budget_and_says_so(in_tmp):
    path = people_csv(in_tmp / "people.csv")
    report = json.loads(benchmark(path, "--time-budget", "0.000001", "--json").stdout)
    assert report["time_budget"]["reached"] and report["time_budget"]["not_tried"][0] == "logistic_rich"
    assert "Time budget of 1e-06 s reached; not tried: logistic_rich" in benchmark(path, "--time-budget", "0.000001").stdout


def test_model_benchmark_refuses_zero_workers(in_tmp):
    result = benchmark(people_csv(in_tmp / "people.csv"), "--n-jobs", "0")
    assert result.exit_code == 2 and "use 1 for no worker processes" in result.output


def test_model_card_without_a_model_says_how_to_get_one(in_tmp):
    result = runner.invoke(app, ["model", "card"])
    assert result.exit_code == 1 and "retention model train" in result.output


def test_model_train_on_too_little_history_keeps_the_rules_score(in_tmp):
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    result = runner.invoke(app, ["model", "train"])
    assert result.exit_code == 1
    assert "rules score stays in use" in result.output or "more history" in result.output


def test_a_future_week_is_refused_without_force(in_tmp):
    result = runner.invoke(app, ["run", "--week", "2999-W01", "--direct"])
    assert result.exit_code == 1 and "after today" in result.output and "--force" in result.output


def test_a_report_for_a_week_that_never_ran_names_the_weeks_that_did(in_tmp):
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    assert runner.invoke(app, ["run", "--week", "2026-W48", "--direct"]).exit_code == 0
    result = runner.invoke(app, ["report", "--week", "2026-W40"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "week 2026-W40 has not been run" in said and "weeks run: 2026-W48" in said
    assert not (in_tmp / "reports" / "2026-W40").exists()


def test_a_header_only_file_is_a_warning_and_the_run_says_why_nothing_happened(in_tmp):
    files = tiny_org()
    files["performance.csv"] = "employee_id,review_date,rating\n"
    write_drop(in_tmp / "drop", files)
    ingested = runner.invoke(app, ["ingest", "drop"])
    assert ingested.exit_code == 0 and "warning: performance.csv: no data rows" in ingested.output
    result = runner.invoke(app, ["run", "--week", "2026-W48", "--direct"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "The store holds no performance rows" in said
    assert "nobody counts as a star performer without a performance rating" in said


def test_quarantine_lists_counts_and_rows_and_writes_every_row_to_csv(in_tmp):
    files = tiny_org()
    files["recognition.csv"] += "E05,not-a-date,E02,10,slack,hi\nE06,2026-13-40,E02,10,slack,hi\n"
    files["autonomy_survey.csv"] += "E05,2026-11-01,freedom,9\n"
    write_drop(in_tmp / "drop", files)
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    shown = runner.invoke(app, ["quarantine"])
    assert shown.exit_code == 0 and "Quarantine: 3 rows" in shown.output
    assert "not-a-date" in shown.output and "withheld" in shown.output  # a survey score is never shown
    only = runner.invoke(app, ["quarantine", "--file", "recognition.csv", "--reason", "NOT A DATE", "--csv", "q.csv"])
    assert only.exit_code == 0 and "Quarantine: 2 rows" in only.output
    with open("q.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["file"], r["reason"], r["value"]) for r in rows] == [
        ("recognition.csv", "given_at is not a date", "not-a-date"),
        ("recognition.csv", "given_at is not a date", "2026-13-40"),
    ]


@flows
def test_verbose_logs_our_stages_and_not_prefects_http_client(in_tmp):
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    result = runner.invoke(app, ["-v", "run", "--week", "2026-W48"])
    assert result.exit_code == 0, result.output
    assert "features done in" in result.output and "score done in" in result.output
    assert "HTTP Request" not in result.output and "csrf" not in result.output


def test_progress_away_from_a_terminal_is_one_line_per_step(in_tmp):
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    result = runner.invoke(app, ["run", "--week", "2026-W48", "--direct"])
    steps = re.findall(r"\] Week 2026-W48: (\S+)", result.output)
    assert steps[:4] == ["follow-through", "features", "score", "select"] and "report" in steps


def test_files_mode_calls_delivery_written_in_outbox_status_and_explain(in_tmp):
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    assert runner.invoke(app, ["run", "--week", "2026-W48", "--direct"]).exit_code == 0
    status = runner.invoke(app, ["outbox", "status"])
    counts = dict(re.findall(r"│ (\w+)\s+│\s+([\d,]+) │", status.output))
    assert int(counts["written"]) > 0 and counts["sent"] == "0", status.output
    explained = runner.invoke(app, ["explain", "E05"])
    assert "to their manager, written" in explained.output and "sent" not in explained.output


@pytest.mark.slow
@flows
def test_a_second_demo_reuses_the_data_and_the_model(in_tmp):
    first = runner.invoke(app, ["demo", "--employees", "300", "--months", "15"])
    assert first.exit_code == 0, first.output
    assert "Generated a synthetic org of 300 people (" in first.output
    card = (in_tmp / "model" / "card.json").read_bytes()
    again = runner.invoke(app, ["demo", "--employees", "300", "--months", "15"])
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert "Reusing the synthetic org in demo-data/" in said and "nothing new to ingest" in said
    assert "not retraining" in said and (in_tmp / "model" / "card.json").read_bytes() == card
