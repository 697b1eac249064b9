"""JSON Lines: one object per line; keys become columns, in the order they first appear."""

from __future__ import annotations

import json
from collections.abc import Mapping

import duckdb
import pyarrow as pa

from core.contract import Source
from pipelines.connectors.base import Connector, ExportFile, Staged
from pipelines.connectors.staging import stage_table, text_table


class JsonlConnector(Connector):
    """`.jsonl` files; no options. A line that is not a JSON object is a reject."""

    format = "jsonl"
    extensions = (".jsonl",)

    def stage(
        self,
        conn: duckdb.DuckDBPyConnection,
        source: Source,
        export: ExportFile,
        options: Mapping[str, object],
    ) -> Staged:
        table, staged = _read_jsonl(export)
        stage_table(conn, table)
        return staged


def _read_jsonl(export: ExportFile) -> tuple[pa.Table, Staged]:
    headers: dict[str, None] = {}
    records: list[tuple[int, dict[str, object]]] = []
    rejects: list[tuple[int, str]] = []
    with export.path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError:
                rejects.append((number, "not valid UTF-8"))
                continue
            except json.JSONDecodeError:
                rejects.append((number, "not valid JSON"))
                continue
            if not isinstance(obj, dict):
                rejects.append((number, "not a JSON object"))
                continue
            for key in obj:
                headers.setdefault(str(key), None)
            records.append((number, obj))
    names = list(headers)
    columns: list[list[str | None]] = [[_json_text(obj.get(n)) for _, obj in records] for n in names]
    table = text_table(names, columns, [n for n, _ in records])
    return table, Staged(headers=table.column_names[:-1], rows=len(records), rejects=rejects)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    return json.dumps(value)
