"""What ingestion is told (`pipelines.options.ingest_options` builds it from settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class IngestOptions:
    """What ingestion needs from settings, and nothing more."""

    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    date_format: str | None = None
    max_reject_share: float = 0.25
    csv_delimiter: str | None = None
    rating_min: float = 1.0
    rating_max: float = 5.0
    earliest_year: int = 1950
    extra_columns: tuple[str, ...] = ()
    today: date = field(default_factory=date.today)
