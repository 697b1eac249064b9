"""`retention preview`: what a config change would do, with nothing sent or stored."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from nudges.select import Pick, Selection
from pipelines.cli import app
from pipelines.preview import compare, parse_sets, side
from tests.conftest import WEEK, tiny_org, write_drop

runner = CliRunner()


def pick(employee: str, kind: str, manager: str = "M1") -> Pick:
    return Pick(employee, manager, kind, False, 0.5, 0.5, {})


def test_set_values_are_read_as_toml_when_they_parse_else_as_text():
    assert parse_sets(["nudges.per_manager=5", "model.threshold=0.3", "nudges.display=band"]) == {
        "nudges.per_manager": 5,
        "model.threshold": 0.3,
        "nudges.display": "band",
    }
    assert parse_sets(['nudges.disabled_kinds=["give_credit"]']) == {"nudges.disabled_kinds": ["give_credit"]}


@pytest.mark.parametrize("bad", ["per_manager", "=5", "nudges..x=1"])
def test_a_malformed_set_says_what_it_should_look_like(bad):
    with pytest.raises(ConfigError, match="SECTION.KEY=VALUE"):
        parse_sets([bad])


def test_the_comparison_names_who_is_newly_included_dropped_or_changed():
    before = side(Selection(picks=[pick("E1", "a"), pick("E2", "a")]), threshold=0.3, method="model")
    after = side(Selection(picks=[pick("E2", "b"), pick("E3", "a", "M2")]), threshold=0.2, method="model")
    result = compare(before, after)
    assert (result.newly_included, result.dropped, result.kind_changed) == (["E3"], ["E1"], ["E2"])
    assert (result.managers_added, result.managers_removed) == (["M2"], [])
    assert (before.by_kind, after.by_kind) == ({"a": 2}, {"a": 1, "b": 1})


@pytest.fixture
def store(in_tmp: Path) -> Path:
    write_drop(in_tmp / "drop", tiny_org())
    assert runner.invoke(app, ["ingest", "drop"]).exit_code == 0
    assert runner.invoke(app, ["run", "--week", WEEK, "--direct"]).exit_code == 0
    return in_tmp / "retention.duckdb"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preview_changes_nothing_in_the_store_or_the_outbox(store):
    outbox = sorted(p.name for p in (store.parent / "outbox").rglob("*"))
    before = digest(store)
    result = runner.invoke(
        app, ["preview", "--week", "2026-W49", "--set", "nudges.per_manager=1", "--set", "rules.threshold=0.1"]
    )
    assert result.exit_code == 0, result.output
    assert "Nothing was sent or stored." in result.output
    assert digest(store) == before
    assert sorted(p.name for p in (store.parent / "outbox").rglob("*")) == outbox


def test_preview_shows_the_effect_of_a_stricter_threshold(store):
    result = runner.invoke(app, ["preview", "--week", WEEK, "--set", "rules.threshold=0.99", "--ids"])
    assert result.exit_code == 0, result.output
    assert "managers emailed" in result.output and "dropped: " in result.output
    assert "E05" in result.output  # the neglected star no longer makes the cut


def test_preview_prints_a_managers_would_be_digest_and_writes_its_html(store):
    result = runner.invoke(
        app, ["preview", "--week", WEEK, "--manager", "E02", "--html", str(store.parent / "e02.html")]
    )
    assert result.exit_code == 0, result.output
    assert "Person E05" in result.output
    assert "Person E05" in (store.parent / "e02.html").read_text(encoding="utf-8")


def test_preview_with_an_unknown_key_names_it(store):
    result = runner.invoke(app, ["preview", "--set", "nudges.per_managr=5"])
    assert result.exit_code == 1 and "per_managr" in result.output


def test_preview_before_any_data_explains_itself(in_tmp):
    result = runner.invoke(app, ["preview"])
    assert result.exit_code == 1 and "retention ingest" in result.output
