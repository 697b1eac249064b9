"""Parquet: every column cast to text, each row numbered by its position (the header is not a row)."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from core.contract import Source
from core.db import quote_ident
from core.errors import IngestError
from pipelines.connectors.base import Connector, ExportFile, Staged
from pipelines.connectors.staging import (
    count_rows,
    first_line,
    stage_view,
    unique_headers,
)

DESCRIBE = "describe select * from read_parquet($path)"
READ_PARQUET = (
    "create temp table _stage_raw as select {casts}, file_row_number + 1 as _line"
    " from read_parquet($path, file_row_number = true)"
)


class ParquetConnector(Connector):
    """`.parquet` files; no options."""

    format = "parquet"
    extensions = (".parquet",)

    def stage(
        self,
        conn: duckdb.DuckDBPyConnection,
        source: Source,
        export: ExportFile,
        options: Mapping[str, object],
    ) -> Staged:
        params = {"path": str(export.path)}
        try:
            names = [row[0] for row in conn.execute(DESCRIBE, params).fetchall()]
            names_out = unique_headers(names)
            casts = ", ".join(
                f"cast({quote_ident(n)} as varchar) as {quote_ident(o)}" for n, o in zip(names, names_out, strict=True)
            )
            conn.execute(READ_PARQUET.format(casts=casts), params)
        except duckdb.Error as exc:
            raise IngestError(f"{export.display}: not a readable Parquet file ({first_line(exc)})") from None
        staged = Staged(headers=names_out, rows=count_rows(conn, "_stage_raw"))
        stage_view(conn)
        return staged
