"""A drop folder's files: which feed which source, which are ignored, which changed since last time.

Size and modification time decide whether a file is read again at all (history grows, the
weekly cost must not); a changed file's hash and line count come from one pass over its bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.contract import EMPLOYEES, SOURCES, Source
from core.db import fetch_one, fetch_value
from core.errors import IngestError
from pipelines.connectors.registry import BY_EXTENSION

RECORDED_STAT = "select size, mtime_ns from ingested_files where path = ?"

# A drop folder holds whatever a connector reads by extension (the registry is the one list).
DROP_EXTENSIONS: tuple[str, ...] = tuple(BY_EXTENSION)


@dataclass(frozen=True)
class DropFile:
    source: Source
    path: Path
    relative: str


@dataclass(frozen=True)
class FileScan:
    sha256: str
    lines: int  # physical lines, a last line without a newline included


def discover(folder: Path, conn: duckdb.DuckDBPyConnection) -> tuple[list[DropFile], list[str]]:
    """Find each source's files: `<source>.<ext>` or `<source>/<any>.<ext>`."""
    if not folder.is_dir():
        raise IngestError(f"drop folder {folder} does not exist or is not a folder")
    found: list[DropFile] = []
    claimed: set[Path] = set()
    missing: list[str] = []
    for source in SOURCES:
        files = [folder / f"{source.name}{ext}" for ext in DROP_EXTENSIONS if (folder / f"{source.name}{ext}").is_file()]
        sub = folder / source.name
        if sub.is_dir():
            files += sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in DROP_EXTENSIONS)
        if source is EMPLOYEES and len(files) > 1:
            names = ", ".join(str(p.relative_to(folder)) for p in files)
            raise IngestError(f"{folder}: more than one employees file ({names}); keep exactly one")
        if not files and source.required and not _has_rows(conn, source.name):
            missing.append(source.name)
        for path in files:
            claimed.add(path.resolve())
            found.append(DropFile(source, path, path.relative_to(folder).as_posix()))
    if missing:
        wanted = ", ".join(f"{m}{{{','.join(DROP_EXTENSIONS)}}}" for m in missing)
        raise IngestError(f"drop folder {folder} is missing required file(s): {wanted}")
    ignored = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.resolve() not in claimed
        and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )
    return found, ignored


def _has_rows(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(fetch_value(conn, f"select exists (select 1 from {table})"))


def changed(conn: duckdb.DuckDBPyConnection, drop: DropFile) -> bool:
    """False when size and modification time are those recorded when the file was loaded."""
    stat = drop.path.stat()
    previous = fetch_one(conn, RECORDED_STAT, [drop.relative])
    return previous is None or (previous[0], previous[1]) != (stat.st_size, stat.st_mtime_ns)


def scan_file(path: Path) -> FileScan:
    """The file's hash and line count, in one pass over its bytes."""
    digest = hashlib.sha256()
    count = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)  # releases the GIL: runs beside DuckDB's work on the previous file
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return FileScan(digest.hexdigest(), count + (0 if last == b"\n" else 1))
