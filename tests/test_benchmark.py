"""Loading any CSV/Parquet table for a benchmark, nested cross-validation on it, and the metric helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from core.errors import ModelError
from models.benchmark import most_often, nested_folds, run_benchmark
from models.candidates import BASELINES
from models.metrics import OTHER_GROUP, calibration_table, evaluate, group_rates
from models.progress import Step
from models.table import load_table

IBM = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "ibm_hr_attrition.csv"

REPORT_KEYS = {
    "selected",
    "roc_auc",
    "pr_auc",
    "brier",
    "candidates",
    "folds",
    "rows",
    "positives",
    "protected_excluded",
    "dropped",
    "selections",
    "baselines",
    "best_baseline",
    "vs_best_baseline",
    "warnings",
    "time_budget",
    "grouped",
    "seconds",
    "cpu_seconds",
}


def write_csv(path: Path, text: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode("utf-8-sig" if bom else encoding))
    return path


def small_table(n: int = 240, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "gender": rng.choice(["f", "m"], n),
            "pay": rng.lognormal(8, 0.5, n),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )
    logit = -(X["rating"].to_numpy() - 3) - 1.0
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)


@pytest.fixture(scope="module")
def ibm_report() -> dict[str, Any]:
    X, y = load_table(IBM, label="Attrition", positive="Yes")
    return run_benchmark(X, y, folds=3, n_jobs=-1)


@pytest.mark.slow
def test_ibm_benchmark_report_has_every_key_and_is_json(ibm_report: dict[str, Any]) -> None:
    assert REPORT_KEYS <= set(ibm_report)
    assert json.loads(json.dumps(ibm_report)) == ibm_report
    assert (ibm_report["folds"], ibm_report["rows"], ibm_report["positives"]) == (3, 1470, 237)


@pytest.mark.slow
def test_ibm_benchmark_scores_well_and_keeps_up_with_the_best_plain_baseline(ibm_report: dict[str, Any]) -> None:
    assert set(ibm_report["baselines"]) == set(BASELINES)
    best = max(scores["roc_auc"] for scores in ibm_report["baselines"].values())
    assert ibm_report["roc_auc"] > 0.8
    assert ibm_report["roc_auc"] >= best - 0.005
    assert ibm_report["vs_best_baseline"] == round(ibm_report["roc_auc"] - best, 4)
    assert 0 < ibm_report["brier"] < 0.161 * 0.839  # better than always predicting the base rate


@pytest.mark.slow
def test_ibm_benchmark_excludes_protected_columns_by_default_and_lists_them_once(ibm_report: dict[str, Any]) -> None:
    assert {"Age", "Gender", "MaritalStatus"} <= set(ibm_report["protected_excluded"])
    dropped = ibm_report["dropped"]
    assert not set(dropped) & set(ibm_report["protected_excluded"])
    assert (dropped["EmployeeNumber"], dropped["EmployeeCount"]) == ("identifier", "constant")


@pytest.mark.slow
def test_ibm_benchmark_reports_its_cpu_and_wall_seconds_and_no_warnings(ibm_report: dict[str, Any]) -> None:
    assert ibm_report["seconds"] > 0 and ibm_report["cpu_seconds"] > 0
    assert ibm_report["warnings"] == [] and ibm_report["time_budget"]["reached"] is False


def test_load_table_reads_the_ibm_file_with_a_bom_and_yes_no_label() -> None:
    X, y = load_table(IBM, label="Attrition", positive="Yes")
    assert X.columns[0] == "Age"
    assert (X.shape, int(y.sum())) == ((1470, 34), 237)
    assert X["OverTime"].dtype == object and X["MonthlyIncome"].dtype == np.float64


def test_load_table_strips_a_utf8_bom_from_the_first_column_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "Age,left\n30,yes\n40,no\n", bom=True)
    X, _ = load_table(path, label="left", positive="yes")
    assert list(X.columns) == ["Age"]


def test_load_table_matches_the_positive_value_trimmed_and_in_any_case_and_skips_unlabelled_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "x,left\n1, YES \n2,No\n3,\n4,yes\n5,NA\n")
    X, y = load_table(path, label="left", positive="Yes")
    assert (X["x"].tolist(), y.tolist()) == ([1.0, 2.0, 4.0], [1, 0, 1])


def test_load_table_makes_numbers_of_columns_that_are_all_numbers_and_keeps_the_rest_as_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "pay,overtime,code,left\n1.5,Yes,7,y\n,No,A1,n\n3,No,8,y\n")
    X, _ = load_table(path, label="left", positive="y")
    assert X["pay"].tolist()[::2] == [1.5, 3.0] and np.isnan(X["pay"].iloc[1])
    assert X["overtime"].tolist() == ["Yes", "No", "No"]
    assert X["code"].tolist() == ["7", "A1", "8"]


def test_load_table_reads_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    with duckdb.connect() as con:
        con.execute(
            "copy (select * from (values (1.5, 'Yes', true), (2.0, 'No', false)) t(pay, left_, remote)) to ? (format parquet)",
            [str(path)],
        )
    X, y = load_table(path, label="left_", positive="yes")
    assert (X["pay"].tolist(), X["remote"].tolist(), y.tolist()) == ([1.5, 2.0], [1.0, 0.0], [1, 0])


def test_load_table_lists_the_available_columns_when_the_label_is_absent(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "Age,Attrition\n30,Yes\n40,No\n")
    with pytest.raises(ModelError, match=r"no label column 'left'; columns are: Age, Attrition"):
        load_table(path, label="left", positive="Yes")


def test_load_table_refuses_a_label_with_only_one_class(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "Age,Attrition\n30,No\n40,No\n")
    with pytest.raises(ModelError, match=r"needs both classes.*values seen: No.*--positive"):
        load_table(path, label="Attrition", positive="Yes")


def test_load_table_names_a_drop_column_that_does_not_exist(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "Age,Attrition\n30,Yes\n40,No\n")
    with pytest.raises(ModelError, match=r"cannot drop 'Salary': no such column"):
        load_table(path, label="Attrition", positive="Yes", drop=["Age", " Salary"])


def test_load_table_leaves_out_dropped_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "Age,Pay,Attrition\n30,1,Yes\n40,2,No\n")
    X, _ = load_table(path, label="Attrition", positive="Yes", drop=[" Age", ""])
    assert list(X.columns) == ["Pay"]


def test_load_table_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nope\.csv: no such file"):
        load_table(tmp_path / "nope.csv", label="Attrition", positive="Yes")


def test_load_table_names_an_unreadable_file_without_quoting_its_contents(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_text("Alice Example,secret\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"t\.parquet: cannot read it as Parquet") as caught:
        load_table(path, label="Attrition", positive="Yes")
    assert "Alice" not in str(caught.value)


def test_load_table_reads_windows_1252_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "Région,left\nÎle-de-France,yes\nNîmes – sud,no\n", encoding="cp1252")
    X, y = load_table(path, label="left", positive="yes")
    assert (list(X.columns), X["Région"].tolist(), y.tolist()) == (["Région"], ["Île-de-France", "Nîmes – sud"], [1, 0])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_load_table_reads_utf16_with_or_without_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "t.csv", "Pay\tleft\n1.5\tyes\n2\tno\n", encoding=encoding)
    X, y = load_table(path, label="left", positive="yes")
    assert (X["Pay"].tolist(), y.tolist()) == ([1.5, 2.0], [1, 0])


def test_load_table_reads_semicolons_with_decimal_commas(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "pay;team;left\n1,5;a,b;1\n2;c;0\n-0,25;d;0\n")
    X, _ = load_table(path, label="left", positive="1")
    assert X["pay"].tolist() == [1.5, 2.0, -0.25] and X["team"].tolist() == ["a,b", "c", "d"]


def test_load_table_follows_an_excel_separator_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "sep=|\npay|left\n1|yes\n2|no\n")
    assert load_table(path, label="left", positive="yes")[0]["pay"].tolist() == [1.0, 2.0]


def test_load_table_reads_thousands_separators_in_quoted_numbers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", 'pay,left\n"1,234.5",yes\n999,no\n')
    assert load_table(path, label="left", positive="yes")[0]["pay"].tolist() == [1234.5, 999.0]


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        (["True", "False", "true"], "true", [1, 0, 1]),
        (["1.0", "0.0", "1.0"], "1", [1, 0, 1]),
        (["1", "0", "1"], "yes", [1, 0, 1]),
        (["Y", "N", "n"], "yes", [1, 0, 0]),
        (["No", "Yes", "yes"], "1", [0, 1, 1]),
    ],
)
def test_load_table_understands_yes_no_one_zero_and_true_false_labels(
    tmp_path: Path, values: list[str], positive: str, expected: list[int]
) -> None:
    path = write_csv(tmp_path / "t.csv", "x,left\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    assert load_table(path, label="left", positive=positive)[1].tolist() == expected


def test_load_table_finds_the_label_whatever_its_case_and_names_blank_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", " Attrition ,pay,\nYes,1,\nNo,2,x\n")
    X, y = load_table(path, label="attrition", positive="Yes")
    assert (list(X.columns), y.tolist()) == (["pay", "column 3"], [1, 0])


def test_load_table_says_to_save_a_spreadsheet_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "people.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ModelError, match=r"people\.xlsx: a spreadsheet; save the sheet as CSV"):
        load_table(path, label="left", positive="yes")


def test_load_table_names_the_line_with_too_many_fields_without_quoting_it(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "name,left\nAlice,yes\nBob,Example,no\n")
    with pytest.raises(ModelError, match=r"t\.csv: cannot read it as CSV \(utf-8, comma-separated\).*line 3") as caught:
        load_table(path, label="left", positive="yes")
    assert "Example" not in str(caught.value)


def test_load_table_names_a_group_column_that_does_not_exist(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "Age,Attrition\n30,Yes\n40,No\n")
    with pytest.raises(ModelError, match=r"no column 'person': no such column"):
        load_table(path, label="Attrition", positive="Yes", keep=["person"])


def test_nested_folds_never_split_a_group_outer_or_inner() -> None:
    rng = np.random.default_rng(0)
    people = np.repeat(np.arange(90), rng.integers(1, 5, 90))
    y = (rng.random(len(people)) < 0.3).astype(np.int64)
    nested = nested_folds(y, people, 5)
    assert sorted(np.concatenate([test for (_, test), _ in nested]).tolist()) == list(range(len(y)))
    for (train, test), inner in nested:
        assert not set(people[train]) & set(people[test])
        for inner_train, inner_val in inner:
            assert set(inner_train) | set(inner_val) == set(train)
            assert not set(people[inner_train]) & set(people[inner_val])


def test_nested_folds_without_groups_are_stratified() -> None:
    y = np.r_[np.ones(50), np.zeros(200)].astype(np.int64)
    for (_, test), inner in nested_folds(y, None, 5):
        assert y[test].sum() == 10
        assert sorted(int(y[val].sum()) for _, val in inner) == [13, 13, 14]


def test_run_benchmark_with_groups_says_so_and_counts_them() -> None:
    X, y = small_table(n=240)
    report = run_benchmark(X, y, folds=2, groups=np.arange(240) // 2, budget_seconds=0.0)
    assert (report["grouped"], report["groups"]) == (True, 120)


def test_run_benchmark_needs_enough_groups_for_the_folds() -> None:
    X, y = small_table(n=240)
    with pytest.raises(ModelError, match=r"only 4 distinct groups.*--group"):
        run_benchmark(X, y, folds=2, groups=np.arange(240) % 4)


def test_run_benchmark_reports_the_baselines_the_warnings_and_a_spent_time_budget() -> None:
    X, y = small_table()
    X = pd.concat([X, X.head(12)], ignore_index=True)  # 5% exact copies
    y = np.r_[y, y[:12]]
    steps: list[Step] = []
    report = run_benchmark(X, y, folds=2, budget_seconds=0.0, progress=steps.append)
    assert set(report["baselines"]) == set(BASELINES) and report["best_baseline"] in BASELINES
    assert [w["kind"] for w in report["warnings"]] == ["duplicates"] and report["warnings"][0]["rows"] == 12
    assert report["time_budget"] == {"seconds": 0.0, "reached": True, "not_tried": report["time_budget"]["not_tried"]}
    assert report["time_budget"]["not_tried"][0] == "logistic_rich" and list(report["candidates"]) == ["logistic"]
    assert json.loads(json.dumps(report)) == report
    assert steps[-1].done == steps[-1].total == 2 + 2 * (1 + len(BASELINES))


def test_run_benchmark_keeps_protected_columns_only_when_allowed() -> None:
    X, y = small_table()
    allowed = run_benchmark(X, y, folds=2, allow_protected=True, budget_seconds=0.0)  # columns, not candidates
    assert allowed["protected_excluded"] == [] and "gender" not in allowed["dropped"]


def test_run_benchmark_says_when_the_smaller_class_is_too_small_for_the_folds() -> None:
    X, y = small_table(n=60)
    y = np.zeros_like(y)
    y[:8] = 1
    with pytest.raises(ModelError, match=r"only 8 rows in the smaller class.*fewer --folds"):
        run_benchmark(X, y, folds=5)


def test_the_most_often_selected_candidate_wins_and_ties_go_to_the_simpler() -> None:
    assert most_often(["hist_gradient_boosting", "logistic_rich", "hist_gradient_boosting"]) == "hist_gradient_boosting"
    assert most_often(["hist_gradient_boosting", "logistic_rich"]) == "logistic_rich"


def test_evaluate_reports_ranking_calibration_and_lift() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1] * 2)
    p = np.linspace(1, 0, 20)  # the first two (one leaver, one stayer) are the top decile
    result = evaluate(y, p)
    assert (result["n"], result["positives"], result["base_rate"]) == (20, 4, 0.2)
    assert result["lift_top_decile"] == pytest.approx(0.5 / 0.2)
    assert 0 < result["roc_auc"] < 1 and 0 < result["brier"] < 1


def test_evaluate_refuses_rows_of_one_class() -> None:
    with pytest.raises(ModelError, match="all leavers or all stayers"):
        evaluate(np.zeros(5), np.linspace(0, 1, 5))


def test_calibration_table_bins_have_equal_counts_and_observed_rates() -> None:
    p = np.linspace(0, 1, 100)
    y = (p > 0.5).astype(int)
    table = calibration_table(y, p, bins=4)
    assert [row["count"] for row in table] == [25, 25, 25, 25]
    assert [row["observed_rate"] for row in table] == [0.0, 0.0, 1.0, 1.0]
    assert table[0]["mean_predicted"] < table[-1]["mean_predicted"]


def test_group_rates_pool_small_groups_and_never_show_one_alone() -> None:
    groups = np.array(["a"] * 6 + ["b"] * 5 + ["c"] * 2 + ["d"] * 3)
    y = np.array([1, 0, 0, 0, 0, 0] + [1] * 5 + [0, 0] + [1, 1, 1])
    flagged = np.zeros(16, dtype=bool)
    rows = group_rates(groups, y, flagged, min_group_size=5)
    assert [row["group"] for row in rows] == ["a", "b", OTHER_GROUP]
    assert rows[2] == {"group": OTHER_GROUP, "n": 5, "leaver_rate": 0.6, "flag_rate": 0.0}


def test_group_rates_withhold_rates_when_even_the_pooled_small_groups_are_too_few() -> None:
    groups = np.array(["a"] * 6 + ["b"] * 2)
    rows = group_rates(groups, np.ones(8), np.ones(8, dtype=bool), min_group_size=5)
    assert rows[-1] == {"group": OTHER_GROUP, "n": 2, "leaver_rate": None, "flag_rate": None}
