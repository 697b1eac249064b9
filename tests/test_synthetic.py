"""The synthetic organisation: contract-shaped, deterministic, messy on purpose, truthful."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest

from core.contract import SOURCES, SOURCES_BY_NAME
from pipelines.synthetic import SynthResult, SynthSpec, generate

END = date(2026, 6, 30)
SMALL = SynthSpec(employees=300, months=12, seed=7, end=END)
LARGE = SynthSpec(employees=2000, months=12, seed=3, end=END)
EMPLOYEE_STATUSES = ("active", "leave", "left")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return generate(SMALL, tmp_path_factory.mktemp("small") / "drop")


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return generate(LARGE, tmp_path_factory.mktemp("large") / "drop")


def _sql(query: str) -> list[tuple]:
    """Run a query on a fresh in-memory DuckDB (files read as text, like ingestion)."""
    with duckdb.connect() as con:
        return con.execute(query).fetchall()


def _csv(result: SynthResult, name: str) -> str:
    return f"read_csv('{result.files[name]}', all_varchar=true, header=true)"


def _truth(result: SynthResult) -> dict:
    return json.loads((result.out_dir / "_truth" / "ground_truth.json").read_text(encoding="utf-8"))


def _truth_csv(result: SynthResult) -> str:
    return f"read_csv('{result.out_dir}/_truth/ground_truth.csv', all_varchar=true, header=true)"


def _clean_employees(result: SynthResult) -> str:
    """Employee rows that pass the checks ingestion would make (bad rows dropped)."""
    return f"""
        with raw as (select distinct * from {_csv(result, 'employees')}),
        ids as (select employee_id from raw where employee_id is not null)
        select * from raw
        where employee_id is not null
          and try_cast(hire_date as date) between date '1990-01-01' and date '{END}'
          and status in {EMPLOYEE_STATUSES}
          and manager_id in (select employee_id from ids)
    """


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    spec = SynthSpec(employees=200, months=12, seed=11, end=END)
    generate(spec, tmp_path / "a")
    generate(spec, tmp_path / "b")
    assert _all_files(tmp_path / "a") == _all_files(tmp_path / "b")


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    generate(SynthSpec(employees=200, months=12, seed=11, end=END), tmp_path / "a")
    generate(SynthSpec(employees=200, months=12, seed=12, end=END), tmp_path / "b")
    a, b = _all_files(tmp_path / "a"), _all_files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in a)


def test_every_contract_file_is_written(small: SynthResult) -> None:
    assert set(small.files) == {s.name for s in SOURCES}
    for name, path in small.files.items():
        assert path == small.out_dir / f"{name}.csv"
        assert path.is_file()


def test_files_have_exactly_the_contract_columns_in_order(small: SynthResult) -> None:
    for name, path in small.files.items():
        with path.open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        assert header == [c.name for c in SOURCES_BY_NAME[name].columns], name


def test_every_row_has_the_header_width_despite_commas_and_quotes(small: SynthResult) -> None:
    with small.files["recognition"].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert {len(r) for r in rows} == {len(rows[0])}
    messages = [r[-1] for r in rows[1:]]
    assert any("," in m for m in messages)
    assert any('"' in m for m in messages)


def test_result_row_counts_match_the_files(small: SynthResult) -> None:
    for name, path in small.files.items():
        with path.open(encoding="utf-8", newline="") as fh:
            assert sum(1 for _ in csv.reader(fh)) - 1 == small.rows[name], name
    assert small.employees == small.rows["employees"]


def test_ground_truth_lives_in_the_truth_subfolder(small: SynthResult) -> None:
    truth = small.out_dir / "_truth"
    assert (truth / "ground_truth.csv").is_file()
    assert (truth / "ground_truth.json").is_file()
    top_level = {p.name for p in small.out_dir.iterdir() if p.is_file()}
    assert top_level == {f"{s.name}.csv" for s in SOURCES}


def test_ground_truth_records_spec_counts_and_coefficients(small: SynthResult) -> None:
    doc = _truth(small)
    assert doc["spec"]["seed"] == SMALL.seed and doc["spec"]["end"] == END.isoformat()
    assert doc["spec"]["nudge_effect"] == 0.0
    assert doc["counts"]["voluntary_exits"] == small.voluntary_exits
    assert doc["counts"]["involuntary_exits"] == small.involuntary_exits
    assert doc["oracle_auc"] == small.oracle_auc
    assert doc["hazard"]["beta_recognition_drought"] > 0
    assert "180-day" in doc["oracle_auc_basis"] and "person-month" in doc["oracle_auc_person_month_basis"]


def test_ceo_is_the_only_self_managed_row(small: SynthResult) -> None:
    clean = _clean_employees(small)
    rows = _sql(f"select employee_id, job_title from ({clean}) where manager_id = employee_id")
    assert rows == [("E000001", "Chief Executive Officer")]


def test_active_managers_have_three_to_twelve_direct_reports(small: SynthResult) -> None:
    clean = _clean_employees(small)
    spans = _sql(f"""
        with e as ({clean})
        select m.employee_id, count(r.employee_id)
        from e m join e r on r.manager_id = m.employee_id and r.employee_id <> m.employee_id
        where m.status <> 'left' and r.status <> 'left'
        group by 1
    """)
    assert len(spans) > 20
    assert all(3 <= n <= 12 for _, n in spans), sorted(n for _, n in spans)


def test_hierarchy_has_several_levels_and_departments(small: SynthResult) -> None:
    rows = _sql(f"select employee_id, manager_id, department from ({_clean_employees(small)})")
    manager = {e: m for e, m, _ in rows}

    def depth(e: str) -> int:
        d = 0
        while manager.get(e, e) != e and d < 50:
            e, d = manager[e], d + 1
        return d

    assert max(depth(e) for e in manager) + 1 > 2
    assert len({d for _, _, d in rows if d != "Executive"}) >= 6


def test_some_reports_still_point_at_a_departed_manager(large: SynthResult) -> None:
    (n,) = _sql(f"""
        with e as ({_clean_employees(large)})
        select count(*) from e r join e m on r.manager_id = m.employee_id
        where r.status <> 'left' and m.status = 'left'
    """)[0]
    assert n > 0


def test_about_two_percent_are_on_leave(large: SynthResult) -> None:
    clean = _clean_employees(large)
    (share,) = _sql(f"select avg((status = 'leave')::int) from ({clean}) where status <> 'left'")[0]
    assert 0.005 < share < 0.05


def test_each_bad_row_kind_is_present_in_every_file(small: SynthResult) -> None:
    bad = _truth(small)["bad_rows"]
    for name in small.files:
        kinds = bad[name]
        expected = {"missing_id", "impossible_date", "duplicate"}
        expected |= {"unknown_manager" if name == "employees" else "unknown_employee"}
        if name not in ("learning", "promotions"):  # no typed column besides ids and dates
            expected.add("wrong_type")
        assert set(kinds) == expected, name
        assert all(n >= 1 for n in kinds.values()), (name, kinds)
        assert sum(kinds.values()) == small.bad_rows[name]


def test_bad_rows_are_about_the_configured_share(large: SynthResult) -> None:
    for name, rows in large.rows.items():
        share = large.bad_rows[name] / rows
        assert 0.5 * LARGE.bad_row_share <= share <= 2 * LARGE.bad_row_share, (name, share)


def test_no_bad_rows_when_the_share_is_zero(tmp_path: Path) -> None:
    result = generate(replace(SMALL, employees=200, bad_row_share=0.0), tmp_path)
    assert set(result.bad_rows.values()) == {0}
    src = _csv(result, "one_on_ones")
    (dups,) = _sql(f"select count(*) - (select count(*) from (select distinct * from {src})) from {src}")[0]
    assert dups == 0


def test_injected_bad_rows_are_visible_in_the_event_files(small: SynthResult) -> None:
    bad = _truth(small)["bad_rows"]
    real_ids = f"(select employee_id from {_truth_csv(small)})"
    checks = {
        "performance": ("employee_id", "review_date", "date", "try_cast(rating as double) is null"),
        "recognition": ("recipient_id", "given_at", "timestamp", "try_cast(points as double) is null"),
        "one_on_ones": ("employee_id", "scheduled_at", "timestamp", "status not in ('held', 'cancelled', 'no_show')"),
        "autonomy_survey": ("employee_id", "responded_at", "timestamp", "try_cast(score as int) not between 1 and 5"),
        "learning": ("employee_id", "completed_at", "timestamp", "false"),
    }
    for name, (id_col, time_col, kind, wrong) in checks.items():
        src = _csv(small, name)
        missing, impossible, unknown, wrong_type, total, distinct = _sql(f"""
            select count(*) filter ({id_col} is null),
                   count(*) filter (try_cast({time_col} as {kind}) is null or {time_col} like '2999%'),
                   count(*) filter ({id_col} not in {real_ids}),
                   count(*) filter (coalesce({wrong}, true)),
                   count(*), (select count(*) from (select distinct * from {src}))
            from {src}
        """)[0]
        kinds = bad[name]
        assert missing == kinds["missing_id"], name
        assert impossible == kinds["impossible_date"], name
        assert unknown == kinds["unknown_employee"], name
        assert wrong_type == kinds.get("wrong_type", 0), name
        assert total - distinct == kinds["duplicate"], name


def test_unknown_manager_rows_are_leaf_employees(small: SynthResult) -> None:
    rows = _sql(f"""
        with raw as (select * from {_csv(small, 'employees')}),
        truth as (select * from {_truth_csv(small)})
        select t.is_manager from raw join truth t using (employee_id)
        where raw.manager_id not in (select employee_id from truth)
    """)
    assert len(rows) == _truth(small)["bad_rows"]["employees"]["unknown_manager"]
    assert {r[0] for r in rows} == {"false"}


def test_events_only_happen_while_employed(small: SynthResult) -> None:
    truth = _truth_csv(small)
    for name, id_col, time_col in (
        ("recognition", "recipient_id", "given_at"),
        ("one_on_ones", "employee_id", "scheduled_at"),
        ("autonomy_survey", "employee_id", "responded_at"),
        ("learning", "employee_id", "completed_at"),
        ("performance", "employee_id", "review_date"),
    ):
        checked, outside = _sql(f"""
            with ev as (
                select try_cast(e.{time_col} as timestamp) happened, cast(t.hire_date as date) hired,
                       coalesce(cast(t.exit_date as date), date '2100-12-31') gone
                from {_csv(small, name)} e join {truth} t on t.employee_id = e.{id_col}
                where try_cast(e.{time_col} as timestamp) < date '2100-01-01')
            select count(*), count(*) filter (happened < hired or happened >= gone) from ev
        """)[0]
        assert checked > 0.9 * small.rows[name], name
        assert outside == 0, name


def test_a_window_without_a_review_cycle_still_has_ratings(tmp_path: Path) -> None:
    """Review history predates the window, so a short window still finds star performers."""
    result = generate(SynthSpec(employees=300, months=4, seed=7, end=date(2026, 11, 20)), tmp_path)
    window_start = _truth(result)["window"]["start"]
    rated, stars, in_window, consistency = _sql(f"""
        with reviews as (
            select employee_id, try_cast(review_date as date) as reviewed, try_cast(rating as double) as rating
            from {_csv(result, 'performance')}
            where try_cast(rating as double) is not null and try_cast(review_date as date) < date '2999-01-01'),
        latest as (select employee_id, max_by(rating, reviewed) as rating from reviews group by 1)
        select avg((l.rating is not null)::int), count(*) filter (where l.rating >= 4),
               (select count(*) from reviews where reviewed >= date '{window_start}'),
               corr(l.rating, t.performance_latent::double)
        from {_csv(result, 'employees')} e
        join {_truth_csv(result)} t using (employee_id)
        left join latest l using (employee_id)
        where e.status = 'active'
    """)[0]
    assert in_window == 0  # no cycle starts inside 2026-07-21..2026-11-20
    assert rated > 0.75
    assert stars > 0
    assert consistency > 0.8  # ratings follow the latent performance the hazard uses


def test_values_use_the_allowed_vocabularies(small: SynthResult) -> None:
    topics = _sql(f"select distinct unnest(string_split(topics, ';')) from {_csv(small, 'one_on_ones')}")
    assert {t for (t,) in topics} <= {"career", "goals", "feedback", "project", "wellbeing"}
    items = _sql(f"select distinct item from {_csv(small, 'autonomy_survey')}")
    assert {i for (i,) in items} == {"freedom", "voice", "decisions", "growth"}
    pattern = r"[a-z]+\.[a-z]+\.[0-9]+@example\.com"
    (emails,) = _sql(f"select count(*) from {_csv(small, 'employees')} where email not similar to '{pattern}'")[0]
    assert emails == 0


def test_people_with_high_true_hazard_leave_far_more_often(large: SynthResult) -> None:
    rates = _sql(f"""
        with t as (select * from read_csv('{large.out_dir}/_truth/ground_truth.csv') where months_at_risk > 0)
        select q, avg((exit_type = 'voluntary')::int) from (
            select ntile(5) over (order by mean_monthly_voluntary_hazard) q, coalesce(exit_type, '') exit_type
            from t
        ) group by q order by q
    """)
    bottom, top = rates[0][1], rates[-1][1]
    assert top > 3 * bottom


def test_a_recognition_drought_in_the_files_predicts_voluntary_exit(large: SynthResult) -> None:
    """Observable from the CSVs alone: snapshot mid-window, look six months ahead."""
    snapshot, start = "2026-01-01", "2025-07-01"
    rows = _sql(f"""
        with e as ({_clean_employees(large)}),
        rec as (select recipient_id, max(try_cast(given_at as timestamp)) last from {_csv(large, 'recognition')}
                where try_cast(given_at as timestamp) < timestamp '{snapshot}' group by 1),
        snap as (
            select date '{snapshot}' - coalesce(cast(r.last as date), date '{start}') as days,
                   coalesce(e.exit_reason = 'voluntary', false) as left_voluntarily
            from e left join rec r on r.recipient_id = e.employee_id
            where cast(e.hire_date as date) <= date '{start}'
              and coalesce(cast(e.exit_date as date), date '2100-01-01') > date '{snapshot}')
        select days >= 90 as drought, avg(left_voluntarily::int), count(*) from snap
        where days <= 30 or days >= 90 group by 1 order by 1
    """)
    (_, recognised, n_recognised), (_, drought, n_drought) = rows
    assert min(n_recognised, n_drought) > 200
    assert drought > 1.4 * recognised


def test_yearly_exit_rates_are_plausible(large: SynthResult) -> None:
    counts = _truth(large)["counts"]
    assert 0.08 <= counts["voluntary_rate_per_year"] <= 0.20
    assert 0.005 <= counts["involuntary_rate_per_year"] < counts["voluntary_rate_per_year"]
    assert abs(counts["headcount_end"] - LARGE.employees) <= 0.05 * LARGE.employees


def test_oracle_auc_is_near_the_published_ceiling(large: SynthResult) -> None:
    assert 0.7 <= _truth(large)["oracle_auc"] <= 0.9
    assert 0.7 <= large.oracle_auc <= 0.9


def test_progress_only_moves_forward_up_to_done(tmp_path: Path) -> None:
    calls: list[tuple[str, float]] = []
    generate(replace(SMALL, employees=200), tmp_path, progress=lambda stage, frac: calls.append((stage, frac)))
    fractions = [frac for _, frac in calls]
    assert calls[-1] == ("done", 1.0)
    assert {stage for stage, _ in calls} >= {"simulate", "write"}
    assert fractions == sorted(fractions) and 0.0 <= fractions[0]


def test_invalid_spec_is_rejected_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(SynthSpec(employees=5, end=END), tmp_path / "out")
    assert not (tmp_path / "out").exists()
