"""Shared fixtures: a hand-built 20-person org, drop folders and real DuckDB stores in tmp dirs."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

# The product's thread caps for the whole suite (models/cores.py): one BLAS/OpenMP thread per
# pool. Set before any of them loads, and inherited by the CLI subprocesses tests start.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import duckdb  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from pipelines.store import connect  # noqa: E402

# And for pools something loaded before this file ran (threadpoolctl sets them in place).
_ONE_THREAD = threadpool_limits(limits=1)

TODAY = date(2026, 11, 25)  # a Wednesday in ISO week 2026-W48
WEEK = "2026-W48"


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def tiny_org(today: date = TODAY) -> dict[str, str]:
    """A CEO, three managers and sixteen reports, with signals chosen per person.

    E05 is a neglected star (no recognition for months, 1:1s cancelled, no career talk);
    E06 is a well-supported star; E07 is neglected but not a star. E10's manager
    (E04) has left, so E10's nudges route to the skip-level (E01).
    """
    base = today - timedelta(days=400)
    employees = [["E01", "ceo@example.com", "E01", "2012-03-01", "active", "Casey Ceo", "Exec", "CEO", "HQ", "", ""]]
    managers = {"E02": "Engineering", "E03": "Sales", "E04": "Support"}
    for i, (mid, dept) in enumerate(managers.items()):
        status, exit_date, reason = ("left", (today - timedelta(days=30)).isoformat(), "voluntary") if mid == "E04" else ("active", "", "")
        employees.append([mid, f"{mid.lower()}@example.com", "E01", f"201{5 + i}-01-10", status, f"Manager {mid}", dept, "Manager", "HQ", exit_date, reason])
    reports = {f"E{n:02d}": ("E02" if n < 10 else "E03" if n < 16 else "E04") for n in range(5, 21)}
    for eid, mid in reports.items():
        employees.append([eid, f"{eid.lower()}@example.com", mid, "2020-06-01", "active", f"Person {eid}", managers[mid], "Engineer", "Remote", "", ""])
    performance, recognition, one_on_ones, survey = [], [], [], []
    for eid in ["E02", "E03", *reports]:
        rating = 4.5 if eid in {"E05", "E06", "E10", "E16", "E11"} else 3.0
        performance.append([eid, (today - timedelta(days=200)).isoformat(), rating])
        performance.append([eid, (today - timedelta(days=20)).isoformat(), rating])
    for eid, mid in reports.items():
        neglected = eid in {"E05", "E07", "E10", "E16", "E11"}
        for week in range(0, 52):
            when = datetime.combine(base, datetime.min.time()) + timedelta(weeks=week, hours=10)
            if when.date() >= today:
                break
            if not neglected or when.date() < today - timedelta(days=200):
                if week % 2 == 0:
                    recognition.append([eid, when.isoformat(sep=" "), mid, 10, "slack", "Thanks for the help, really"])
            status = "cancelled" if neglected and when.date() > today - timedelta(days=120) else "held"
            topics = "career;goals" if (not neglected and week % 8 == 0) else "project"
            one_on_ones.append([mid, eid, (when + timedelta(days=1)).isoformat(sep=" "), status, 30, topics])
        for month in range(0, 12):
            when = base + timedelta(days=30 * month + 3)
            score = 2 if neglected and month > 8 else 4
            survey.append([eid, when.isoformat(), "freedom", score])
            survey.append([eid, when.isoformat(), "voice", score])
    return {
        "employees.csv": csv_text(
            ["employee_id", "email", "manager_id", "hire_date", "status", "name", "department", "job_title", "location", "exit_date", "exit_reason"],
            employees,
        ),
        "performance.csv": csv_text(["employee_id", "review_date", "rating"], performance),
        "recognition.csv": csv_text(["recipient_id", "given_at", "giver_id", "points", "channel", "message"], recognition),
        "one_on_ones.csv": csv_text(["manager_id", "employee_id", "scheduled_at", "status", "duration_min", "topics"], one_on_ones),
        "autonomy_survey.csv": csv_text(["employee_id", "responded_at", "item", "score"], survey),
        # E06 was promoted long ago, E08 recently; nobody else since being hired.
        "promotions.csv": csv_text(
            ["employee_id", "effective_date"],
            [["E06", (today - timedelta(days=700)).isoformat()], ["E08", (today - timedelta(days=100)).isoformat()]],
        ),
    }

def write_drop(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder

@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """The tiny org as a drop folder."""
    return write_drop(tmp_path / "drop", tiny_org())

@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "retention.duckdb"

@pytest.fixture
def conn(store_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(store_path)
    yield connection
    connection.close()

@pytest.fixture(autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test starts in an empty folder of its own with no RETENTION_* variables.

    The demo writes ./model, ./retention.duckdb and ./outbox where it runs; a test that read
    them (a default `[model] dir`, say) would pass or fail by what the last demo left there.
    """
    for key in list(os.environ):
        if key.startswith("RETENTION_"):
            monkeypatch.delenv(key)
    folder = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in the test's own tmp_path (files written there are the test's to inspect)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path



@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's own test harness (a temporary API and database), started once for the session.

    Only tests that run flows (directly or through `retention run` / `demo`) use it,
    so the rest of the suite never imports Prefect.
    """
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Prefect end-to-end script now when its test will run: it waits more than it works."""
    from tests.test_prefect_e2e import HAS_TOOLS, TEST_NAME, start_e2e

    if HAS_TOOLS and not session.config.option.collectonly and any(item.name == TEST_NAME for item in session.items):
        session.config._retention_e2e = start_e2e()  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Never leave the end-to-end script (and its server) running, whatever happened to its test."""
    from tests.test_prefect_e2e import stop_e2e

    started = getattr(session.config, "_retention_e2e", None)
    if started is not None:
        stop_e2e(started[0])
        started[1].unlink(missing_ok=True)
