"""Loading settings: which file applies, the environment checked, errors described, TOML written back.

`load_settings` is the one entry point (CLI callback, flow start). The settings'
shape and each key's validation are in `pipelines/settings.py`; this module is the
file and environment around them: a misspelt `RETENTION_*` variable stops with the
closest valid name, and a bad value names the file (or variable, or `--set`), key,
value and what was expected.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError
from pipelines.settings import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    ENV_PREFIX,
    OTHER_ENV_VARS,
    Settings,
)


def resolve_config_path(
    explicit: Path | None, *, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Which config file applies: --config, else $RETENTION_CONFIG, else ./retention.toml."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} (from --config) does not exist")
        return explicit
    named = environ.get(CONFIG_ENV_VAR)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"config file {path} (from {CONFIG_ENV_VAR}) does not exist")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def load_settings(
    config_path: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the effective settings once; fail fast with the key, value and expectation.

    `overrides` (dotted keys such as ``nudges.per_manager``) sit above the TOML
    file and below the environment; `retention preview --set` uses them.
    """
    check_environment(os.environ)
    path = resolve_config_path(config_path)
    data: dict[str, Any] = read_toml(path) if path else {}
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, os.environ, overrides or {})) from None


def environment_names() -> tuple[set[str], set[str]]:
    """(every RETENTION_* name a setting answers to, prefixes under which any deeper name is a key).

    A section may also come whole as JSON (RETENTION_SMTP='{...}'), as pydantic-settings allows;
    a table of tables (`[ingest.columns.<source>]`) takes any key below it.
    """
    names, open_prefixes = set(OTHER_ENV_VARS), set()
    for section, field in Settings.model_fields.items():
        top = f"{ENV_PREFIX}{section.upper()}"
        names.add(top)
        model = field.annotation
        for key, inner in getattr(model, "model_fields", {}).items():
            name = f"{top}__{key.upper()}"
            names.add(name)
            if getattr(inner.annotation, "__origin__", None) is dict:
                open_prefixes.add(name + "__")
    return names, open_prefixes


def check_environment(environ: Mapping[str, str]) -> None:
    """A RETENTION_* variable that names no setting is a typo: stop, as a misspelt TOML key does."""
    names, open_prefixes = environment_names()
    unknown = sorted(
        key
        for key in environ
        if key.upper().startswith(ENV_PREFIX)
        and key.upper() not in names
        and not key.upper().startswith(tuple(open_prefixes))
    )
    if not unknown:
        return
    lines = []
    for key in unknown:
        close = difflib.get_close_matches(key.upper(), sorted(names - OTHER_ENV_VARS), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else "; see retention.toml for the sections and keys"
        lines.append(f"unknown environment variable {key}{hint}")
    raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted}: {part} is not a table")
        node = child
    node[leaf] = value


def _describe(
    exc: ValidationError, path: Path | None, environ: Mapping[str, str], overrides: Mapping[str, Any]
) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        env_name = ENV_PREFIX + "__".join(p.upper() for p in loc)
        if env_name in environ:
            origin = f"env {env_name}"
        elif any(key == o or key.startswith(o + ".") or o.startswith(key + ".") for o in overrides):
            origin = "--set"
        else:
            origin = str(path) if path else "defaults"
        secret = any(part in {"password", "token", "secret"} for part in loc)
        shown = "'**********'" if secret else _short(err.get("input"))
        if not loc:
            lines.append(f"{origin}: {err['msg'].removeprefix('Value error, ')}")
        elif err["type"] == "extra_forbidden":
            lines.append(f"{origin}: unknown key {key!r} (check the spelling against retention.toml)")
        else:
            lines.append(f"{origin}: {key} = {shown}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def settings_as_dict(settings: Settings) -> dict[str, Any]:
    """The effective config for display, with secrets masked."""
    return settings.model_dump(mode="json")


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def settings_as_toml(settings: Settings) -> str:
    """The effective config as a TOML file one could load again; unset keys are comments (TOML has no null)."""
    lines: list[str] = []
    for section, values in settings_as_dict(settings).items():
        lines += ["", f"[{section}]"]
        for key, value in values.items():
            if value is None:
                lines.append(f"# {key} is unset")
            else:
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans are written alike in JSON and TOML
