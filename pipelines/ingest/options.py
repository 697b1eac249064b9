"""What ingestion is told: its options, and the one adapter from settings to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from pipelines.settings import Settings


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


def ingest_options(settings: Settings) -> IngestOptions:
    """The [ingest] section as options: one place, for the CLI and the flow alike."""
    i = settings.ingest
    return IngestOptions(
        columns=i.columns,
        date_format=i.date_format,
        max_reject_share=i.max_reject_share,
        csv_delimiter=i.csv_delimiter,
        rating_min=i.rating_min,
        rating_max=i.rating_max,
        earliest_year=i.earliest_year,
        extra_columns=tuple(i.extra_columns),
    )
