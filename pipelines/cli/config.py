"""`retention config show`: the effective configuration as loadable TOML, secrets masked."""

from __future__ import annotations

import typer

from pipelines.cli.common import (
    _settings,
    _State,
    command_group,
    handles_errors,
)

app = command_group("Inspect the effective configuration.")

# --- config --------------------------------------------------------------------------------


@app.command("show")
@handles_errors
def config_show() -> None:
    """Print the effective configuration (file + environment), secrets masked."""
    from pipelines.config import resolve_config_path, settings_as_toml

    settings = _settings()
    source = resolve_config_path(_State.config)
    typer.echo(f"# effective configuration (file: {source or 'none, defaults'}; env RETENTION_* applied)\n")
    typer.echo(settings_as_toml(settings), nl=False)


