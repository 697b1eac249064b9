"""The Prefect flows under Prefect's own test harness: stages as tasks, artifacts, failure and rerun, retrain."""

from __future__ import annotations

import csv
import importlib
import io
import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from tests.conftest import TODAY, WEEK, tiny_org, write_drop

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _harness(prefect_harness: None) -> None:
    """Every test here runs flows."""


def write_config(folder: Path, **sections: dict[str, object]) -> Path:
    """A retention.toml for one test: everything under `folder`."""
    base: dict[str, dict[str, object]] = {
        "store": {"path": str(folder / "retention.duckdb")},
        "delivery": {"outbox_dir": str(folder / "outbox")},
        "report": {"dir": str(folder / "reports")},
        "model": {"dir": str(folder / "model")},
        "flows": {"drop_dir": str(folder / "drop"), "io_retries": 0, "io_retry_delay_s": 0},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = folder / "retention.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def personal_values() -> set[str]:
    rows = csv.DictReader(io.StringIO(tiny_org(TODAY)["employees.csv"]))
    return {v for r in rows for v in (r["name"], r["email"]) if v}


async def artifacts_of(flow_run_id: object) -> list[object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def outbox_rows(path: Path) -> list[tuple[str, str]]:
    from pipelines.store import open_store

    with open_store(path, read_only=True) as conn:
        return conn.execute("select week, manager_id from outbox order by 1, 2").fetchall()


def test_the_weekly_flow_completes_and_leaves_artifacts_without_personal_data(tmp_path):
    import asyncio

    from pipelines.flows import weekly_digest

    write_drop(tmp_path / "drop", tiny_org(TODAY))
    config = write_config(tmp_path)
    state = weekly_digest(week=WEEK, config_path=str(config), return_state=True)
    assert state.is_completed(), state.message
    assert state.result().digests_new > 0
    found = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    assert {a.type for a in found} == {"markdown", "table"}
    text = "\n".join(str(a.data) for a in found)
    assert "Weekly digest" in text and "nudges" in text
    for value in personal_values():
        assert value not in text, value


def test_a_failing_stage_fails_the_flow_and_a_rerun_completes_without_duplicates(tmp_path):
    from pipelines.flows import weekly_digest

    write_drop(tmp_path / "drop", tiny_org(TODAY))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be", encoding="utf-8")
    broken = write_config(tmp_path, delivery={"outbox_dir": str(blocker)})
    failed = weekly_digest(week=WEEK, config_path=str(broken), return_state=True)
    assert failed.is_failed()
    assert "outbox folder" in str(failed.message) or "outbox folder" in repr(failed.result(raise_on_failure=False))
    queued = outbox_rows(tmp_path / "retention.duckdb")
    assert queued  # the stages before delivery had done their work

    fixed = write_config(tmp_path)
    again = weekly_digest(week=WEEK, config_path=str(fixed), return_state=True)
    assert again.is_completed(), again.message
    assert outbox_rows(tmp_path / "retention.duckdb") == queued  # nothing added twice
    assert list((tmp_path / "outbox" / WEEK).glob("*.eml"))


def test_a_second_run_of_the_same_week_in_the_same_process_is_refused(tmp_path):
    from pipelines.flows import _one_run_per_week, weekly_digest

    write_drop(tmp_path / "drop", tiny_org(TODAY))
    config = write_config(tmp_path)
    with _one_run_per_week(WEEK):
        state = weekly_digest(week=WEEK, config_path=str(config), return_state=True)
    assert state.is_failed()
    assert not (tmp_path / "retention.duckdb").exists() or not outbox_rows(tmp_path / "retention.duckdb")


def test_the_flows_ingest_is_recorded_so_the_demo_will_not_mix_into_its_store(tmp_path):
    """The run row used to be written by `retention ingest` only: a store the flow filled looked empty to the guard."""
    from core.errors import ConfigError
    from pipelines.demo import guard_demo_store
    from pipelines.flows import weekly_digest
    from pipelines.store import open_store

    write_drop(tmp_path / "drop", tiny_org(TODAY))
    config = write_config(tmp_path)
    state = weekly_digest(week=WEEK, config_path=str(config), return_state=True)
    assert state.is_completed(), state.message
    with open_store(tmp_path / "retention.duckdb", read_only=True) as conn:
        rows = conn.execute("select status, summary from runs where kind = 'ingest'").fetchall()
    assert [(status, json.loads(summary)["folder"]) for status, summary in rows] == [
        ("completed", str((tmp_path / "drop").resolve()))
    ]
    with pytest.raises(ConfigError, match="will not mix"):
        guard_demo_store(tmp_path / "retention.duckdb", tmp_path / "demo-data")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic org with enough history to train on."""
    from pipelines.synthetic import SynthSpec, generate

    folder = tmp_path_factory.mktemp("history")
    generate(SynthSpec(employees=400, months=18, seed=1, end=date(2026, 6, 28)), folder / "drop")
    return folder


def test_retrain_promotes_a_first_model_and_says_why(history, tmp_path):
    from pipelines.config import load_settings
    from pipelines.flows import retrain
    from pipelines.ingest.load import ingest_folder
    from pipelines.options import ingest_options
    from pipelines.store import open_store

    config = write_config(tmp_path, flows={"drop_dir": str(history / "drop")})
    settings = load_settings(config)
    with open_store(settings.store.path) as conn:
        ingest_folder(conn, history / "drop", ingest_options(settings))
    state = retrain(config_path=str(config), return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["promoted"] is True and "no usable current model" in state.result()["reason"]
    assert (tmp_path / "model" / "model.skops").is_file()
    import asyncio

    (artifact,) = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    assert "Promoted" in str(artifact.data) and "validation ROC-AUC" in str(artifact.data)


def test_retrain_refuses_to_promote_a_model_worse_than_the_current_one(history, tmp_path):
    from pipelines.flows import retrain

    test_retrain_promotes_a_first_model_and_says_why(history, tmp_path)
    card_path = tmp_path / "model" / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["validation"]["roc_auc"] = 0.99  # the current model, as its card describes it, is far better
    card_path.write_text(json.dumps(card), encoding="utf-8")
    model_before = (tmp_path / "model" / "model.skops").read_bytes()

    state = retrain(config_path=str(tmp_path / "retention.toml"), return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["promoted"] is False and "kept the current model" in state.result()["reason"]
    assert (tmp_path / "model" / "model.skops").read_bytes() == model_before


def test_prefect_yaml_deploys_both_flows_on_their_schedules():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert set(deployments) == {"weekly-digest", "retrain"}
    assert deployments["weekly-digest"]["schedules"][0]["cron"] == "0 7 * * 1"
    assert deployments["retrain"]["schedules"][0]["cron"].endswith("1 * *")  # monthly
    for deployment in deployments.values():
        assert deployment["work_pool"]["name"] == "retention"
        assert deployment["schedules"][0]["timezone"]
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert flow.name == deployment["name"]


def test_nothing_but_the_flows_module_imports_prefect():
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, sys\n"
        "import pipelines, models, nudges\n"
        "for pkg in (pipelines, models, nudges):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name != 'pipelines.flows':\n"
        "            importlib.import_module(m.name)\n"
        "print('prefect' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def _messages_without_date(path: Path) -> dict[str, bytes]:
    from pipelines.store import open_store

    with open_store(path, read_only=True) as conn:
        rows = conn.execute("select manager_id, message from outbox order by 1").fetchall()
    return {m: b"\r\n".join(line for line in bytes(data).split(b"\r\n") if not line.startswith(b"Date: ")) for m, data in rows}


def test_the_dask_task_runner_gives_the_same_digests_as_the_default_runner(tmp_path):
    from pipelines.flows import weekly_digest
    from pipelines.synthetic import SynthSpec, generate

    generate(SynthSpec(employees=300, months=12, seed=3, end=TODAY), tmp_path / "shared-drop")
    results = {}
    for runner in ("thread", "dask"):
        folder = tmp_path / runner
        folder.mkdir()
        # Small batches, so the two workers each render several of them.
        config = write_config(folder, flows={"drop_dir": str(tmp_path / "shared-drop"), "batch_size": 4,
                                             "partition_by": "department"})
        state = weekly_digest(week=WEEK, config_path=str(config), task_runner=runner, workers=2, return_state=True)
        assert state.is_completed(), state.message
        results[runner] = _messages_without_date(folder / "retention.duckdb")
    assert len(results["thread"]) > 8
    assert results["dask"] == results["thread"]
