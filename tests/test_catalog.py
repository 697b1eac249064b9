"""The nudge catalog is data HR edits: it loads, and mistakes in it are named plainly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from nudges.catalog import DEFAULT_CATALOG, load_catalog
from pipelines.errors import ConfigError

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def test_the_shipped_catalog_loads_with_the_first_three_kinds():
    ids = [k.id for k in load_catalog().active()]
    assert ids == ["recognition_gap", "one_on_one_lapse", "career_conversation"]


def test_every_kind_has_an_action_a_question_and_a_reason(tmp_path):
    for kind in load_catalog().kind:
        assert kind.actions and kind.questions and kind.why and kind.principle
        assert all("{first_name}" in a for a in kind.actions)
        assert all(q.rstrip().endswith("?") for q in kind.questions)


def test_a_mistake_names_the_kind_and_the_key(tmp_path):
    data = DEFAULT_CATALOG.read_text().replace('driver = "career"', 'driver = "salary"')
    path = tmp_path / "catalog.toml"
    path.write_text(data)
    with pytest.raises(ConfigError, match="kind 'career_conversation': driver: .*driver must be one of"):
        load_catalog(path)


def test_a_missing_catalog_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml does not exist"):
        load_catalog(tmp_path / "nope.toml")


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the leadership essays live beside the checkout")
def test_no_sentence_is_copied_from_the_essays():
    essays = " ".join(p.read_text(encoding="utf-8").lower() for p in SEEDS.glob("*.txt"))
    essays = " ".join(essays.split())
    with DEFAULT_CATALOG.open("rb") as fh:
        catalog = tomllib.load(fh)
    for kind in catalog["kind"]:
        for text in kind["actions"] + kind["questions"] + kind["why"] + [kind["title"]]:
            words = text.lower().replace("{first_name}", "x").split()
            # no run of eight words appears verbatim in any essay
            for i in range(max(0, len(words) - 7)):
                assert " ".join(words[i : i + 8]) not in essays, text
