"""The export's headers matched to the contract's columns, case and space insensitive.

HR maps headers that differ from ours in `[ingest.columns.<source>]`; a required column
that is missing stops the file, with the headers found (when they look like headers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.contract import Source
from core.errors import IngestError

_HEADER_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9 _.()#/-]{0,63}$")


def map_headers(source: Source, headers: list[str], configured: Mapping[str, str], *, display: str) -> dict[str, str]:
    """Our column -> the staged header holding it (case and space insensitive)."""
    by_folded = {h.strip().lower(): h for h in headers}
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for col in source.columns:
        wanted = configured.get(col.name, col.name)
        header = by_folded.get(wanted.strip().lower())
        if header is not None:
            mapping[col.name] = header
        elif col.required:
            missing.append(col.name if wanted == col.name else f"{col.name} (mapped to {wanted!r})")
    if missing:
        raise IngestError(
            f"{display}: line 1: missing required column(s) {', '.join(missing)}; {_describe_headers(headers)}."
            f" Map your headers in [ingest.columns.{source.name}] of retention.toml"
        )
    return mapping


def _describe_headers(headers: list[str]) -> str:
    """Echo the headers only when they look like headers: a file without a header row
    would otherwise put its first person's data into an error message."""
    if headers and all(_HEADER_LIKE.match(h.strip()) for h in headers):
        return "found columns: " + ", ".join(h.strip() for h in headers[:30])
    return "the first line does not look like a header row (is it missing?)"
