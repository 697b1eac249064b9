"""The connector interface: one export file in, `_stage` for one canonical source out.

A connector only reads. It stages every value as text, so a wrong type becomes a
quarantined row and never a failed load; it numbers each staged row `_line`, the line of
the file it starts on (the row number where a format has no lines); and it returns the
rows it could not stage as rejects with their line. What the values mean is ingest's job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import duckdb

from core.contract import Source

STAGE = "_stage"
# The tables connectors stage through, dropped with the view before a read and after an ingest.
SCRATCH_TABLES = ("_stage_raw", "_rejects", "_rejects_scan")


@dataclass
class Staged:
    """What a connector left in the `_stage` table, and the rows it could not stage."""

    headers: list[str]
    rows: int
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


@dataclass(frozen=True)
class ExportFile:
    """One file to read, with what the caller already knows about it."""

    path: Path
    display: str  # how messages name the file: its place in the drop folder, never an absolute path
    lines: int | None = None  # physical lines, when the caller counted them (ingest does, while hashing)
    exact: bool = False  # the fast read gave up on this file earlier: read it the careful way


class NeedsExactRead(Exception):
    """The fast read failed as a whole and spoilt the caller's transaction.

    The caller rolls back and reads again, passing `ExportFile(exact=True)` for this file.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


class Connector(ABC):
    """Reads one format. Stateless: the registry holds one instance per format."""

    format: ClassVar[str]  # the name `[[sources]] format = ...` will use
    extensions: ClassVar[tuple[str, ...]] = ()  # file suffixes a drop folder names the format by
    tables: ClassVar[frozenset[str] | None] = None  # canonical tables it can feed; None: any

    def feeds(self, source: Source) -> bool:
        return self.tables is None or source.name in self.tables

    @abstractmethod
    def stage(
        self,
        conn: duckdb.DuckDBPyConnection,
        source: Source,
        export: ExportFile,
        options: Mapping[str, object],
    ) -> Staged:
        """Make the view `_stage` (text columns plus `_line`) from `export` for `source`.

        `options` are the format's own settings (a CSV delimiter, a sheet name); unknown
        keys are ignored. Problems with the file as a whole raise `IngestError` naming
        `export.display`; problems with a line are rejects.
        """


def drop_stage(conn: duckdb.DuckDBPyConnection) -> None:
    """Forget whatever the last read staged."""
    conn.execute(f"drop view if exists {STAGE}")
    for table in SCRATCH_TABLES:
        conn.execute(f"drop table if exists {table}")
