"""Settings: defaults < TOML file < environment; bad values fail fast and readably."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from core.errors import ConfigError
from pipelines.config import load_settings, settings_as_dict, settings_as_toml
from pipelines.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_apply_without_any_file(in_tmp):
    settings = load_settings()
    assert settings.store.path == Path("retention.duckdb")
    assert settings.delivery.outbox_dir == Path("outbox")
    assert settings.nudges.per_manager == 3


def test_the_toml_file_beats_defaults(in_tmp):
    config = write(in_tmp / "c.toml", "[nudges]\nper_manager = 5\n[store]\npath = 'x.duckdb'\n")
    settings = load_settings(config)
    assert settings.nudges.per_manager == 5
    assert settings.store.path == Path("x.duckdb")


def test_the_environment_beats_the_toml_file(in_tmp, monkeypatch):
    config = write(in_tmp / "c.toml", "[nudges]\nper_manager = 5\n[smtp]\nport = 2525\n")
    monkeypatch.setenv("RETENTION_NUDGES__PER_MANAGER", "2")
    monkeypatch.setenv("RETENTION_STORE__PATH", "/data/env.duckdb")
    monkeypatch.setenv("RETENTION_DELIVERY__OUTBOX_DIR", "/data/outbox")
    settings = load_settings(config)
    assert settings.nudges.per_manager == 2
    assert settings.smtp.port == 2525  # untouched keys of the same table survive
    assert settings.store.path == Path("/data/env.duckdb")
    assert settings.delivery.outbox_dir == Path("/data/outbox")


def test_retention_config_names_the_file_and_dot_toml_is_the_fallback(in_tmp, monkeypatch):
    write(in_tmp / "retention.toml", "[nudges]\nper_manager = 4\n")
    assert load_settings().nudges.per_manager == 4
    other = write(in_tmp / "other.toml", "[nudges]\nper_manager = 6\n")
    monkeypatch.setenv("RETENTION_CONFIG", str(other))
    assert load_settings().nudges.per_manager == 6


def test_a_named_config_file_that_does_not_exist_is_an_error(in_tmp, monkeypatch):
    with pytest.raises(ConfigError, match="nope.toml .from --config. does not exist"):
        load_settings(Path("nope.toml"))
    monkeypatch.setenv("RETENTION_CONFIG", "gone.toml")
    with pytest.raises(ConfigError, match="RETENTION_CONFIG"):
        load_settings()


def test_a_bad_value_names_the_key_the_value_and_the_expectation(in_tmp):
    config = write(in_tmp / "c.toml", "[nudges]\nper_manager = 'lots'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    message = str(err.value)
    assert "c.toml" in message and "nudges.per_manager" in message and '"lots"' in message
    assert "valid integer" in message


def test_a_bad_env_value_names_the_variable(in_tmp, monkeypatch):
    monkeypatch.setenv("RETENTION_NUDGES__DISPLAY", "everything")
    with pytest.raises(ConfigError, match=r"env RETENTION_NUDGES__DISPLAY: nudges.display = \"everything\""):
        load_settings()


def test_an_unknown_key_is_reported_as_a_probable_typo(in_tmp):
    config = write(in_tmp / "c.toml", "[nudges]\nper_manger = 2\n")
    with pytest.raises(ConfigError, match="unknown key 'nudges.per_manger'"):
        load_settings(config)


def test_invalid_toml_is_reported_with_the_file(in_tmp):
    config = write(in_tmp / "c.toml", "[nudges\n")
    with pytest.raises(ConfigError, match="c.toml: not valid TOML"):
        load_settings(config)


def test_secrets_are_masked_when_shown_and_in_errors(in_tmp, monkeypatch):
    monkeypatch.setenv("RETENTION_SMTP__PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "hunter2"
    assert "hunter2" not in str(settings_as_dict(settings))
    assert "hunter2" not in repr(settings)


def test_the_example_config_is_valid_and_equals_the_defaults(in_tmp):
    example = load_settings(REPO_ROOT / "retention.toml")
    assert settings_as_dict(example) == settings_as_dict(load_settings())


def test_header_injection_in_the_sender_is_refused(in_tmp):
    config = write(in_tmp / "c.toml", '[email]\nsender = "HR <hr@example.com>\\r\\nBcc: evil@example.com"\n')
    with pytest.raises(ConfigError, match="email.sender"):
        load_settings(config)


def test_a_memory_limit_without_a_unit_is_refused_with_the_key(in_tmp):
    (in_tmp / "retention.toml").write_text('[store]\nmemory_limit = "2"\n')
    with pytest.raises(ConfigError, match="store.memory_limit"):
        load_settings()


def test_every_test_starts_in_an_empty_folder_without_retention_variables():
    # What a demo left in the checkout (./model, ./retention.toml) must never change a test's outcome.
    assert list(Path.cwd().iterdir()) == []
    assert not [k for k in os.environ if k.startswith("RETENTION_")]


def test_a_misspelt_environment_table_stops_with_the_closest_name(monkeypatch):
    monkeypatch.setenv("RETENTION_NUDGE__PER_MANAGER", "2")
    with pytest.raises(ConfigError, match="RETENTION_NUDGE__PER_MANAGER; did you mean RETENTION_NUDGES__PER_MANAGER"):
        load_settings()


def test_a_misspelt_environment_key_stops_too(monkeypatch):
    monkeypatch.setenv("RETENTION_SMTP__HOSTNAME", "relay")
    with pytest.raises(ConfigError, match="unknown environment variable RETENTION_SMTP__HOSTNAME; did you mean RETENTION_SMTP__HOST"):
        load_settings()


def test_our_other_variables_and_column_maps_are_not_typos(monkeypatch, tmp_path):
    monkeypatch.setenv("RETENTION_HOME", str(tmp_path))
    monkeypatch.setenv("RETENTION_INGEST__COLUMNS__EMPLOYEES__EMPLOYEE_ID", "Staff Number")
    settings = load_settings()
    assert settings.ingest.columns == {"employees": {"employee_id": "Staff Number"}}


def test_a_bad_override_names_set_not_the_config_file(tmp_path):
    config = tmp_path / "retention.toml"
    config.write_text("[nudges]\nper_manager = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--set: nudges\.per_manager = \"many\""):
        load_settings(config, overrides={"nudges.per_manager": "many"})


def test_config_as_toml_loads_back_to_the_same_settings(monkeypatch):
    monkeypatch.setenv("RETENTION_INGEST__COLUMNS__EMPLOYEES__EMPLOYEE_ID", "Staff Number")
    settings = load_settings()
    text = settings_as_toml(settings)
    assert "null" not in text and "# memory_limit is unset" in text
    assert settings_as_dict(Settings(**tomllib.loads(text))) == settings_as_dict(settings)
