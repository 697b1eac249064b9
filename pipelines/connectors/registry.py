"""Which connector reads a file: by its extension in a drop folder, by format name in config.

The one module that knows every connector; ingest asks here and never imports a format.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from core.contract import Source
from core.errors import ConfigError, IngestError
from pipelines.connectors.base import Connector, ExportFile, Staged, drop_stage
from pipelines.connectors.delimited import DelimitedConnector
from pipelines.connectors.jsonl import JsonlConnector
from pipelines.connectors.parquet import ParquetConnector

CONNECTORS: tuple[Connector, ...] = (DelimitedConnector(), ParquetConnector(), JsonlConnector())
BY_FORMAT: dict[str, Connector] = {c.format: c for c in CONNECTORS}
BY_EXTENSION: dict[str, Connector] = {ext: c for c in CONNECTORS for ext in c.extensions}


def for_format(name: str) -> Connector:
    """The connector a `format = ...` setting names."""
    try:
        return BY_FORMAT[name]
    except KeyError:
        raise ConfigError(f"unknown format {name!r} (one of: {', '.join(sorted(BY_FORMAT))})") from None


def for_file(export: ExportFile) -> Connector:
    """The connector a drop-folder file's extension names."""
    suffix = export.path.suffix.lower()
    if suffix not in BY_EXTENSION:
        *others, last = BY_EXTENSION
        raise IngestError(f"{export.display}: unsupported file type {suffix!r} (use {', '.join(others)} or {last})")
    return BY_EXTENSION[suffix]


def stage_export(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    export: ExportFile,
    options: Mapping[str, object],
    connector: Connector | None = None,
) -> Staged:
    """Stage `export` for `source` with `connector` (default: by its extension), after the checks every format shares."""
    connector = connector or for_file(export)
    if not connector.feeds(source):
        raise IngestError(f"{export.display}: the {connector.format} format cannot feed {source.name}")
    if export.path.stat().st_size == 0:
        raise IngestError(f"{export.display}: the file is empty (expected a header row and data)")
    drop_stage(conn)
    return connector.stage(conn, source, export, options)
