"""The contract: each canonical source named once, with its columns, types and traits.

One table of facts that ingestion validates against, the synthetic org writes to,
the model reads its data window from, the retention purge and the HR summary's
staleness check walk. Adding a source is one `Source(...)` here plus its reader
(a connector). Column names are ours; HR maps an export's headers onto them in
config (`[ingest.columns.<source>]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# An address we can put in a header: local@domain.tld, nothing that could start another header.
EMAIL_PATTERN = r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s<>,;:\"()\[\]\\]+$"


class Kind(StrEnum):
    """How a raw text value is parsed and checked."""

    ID = "id"  # non-empty text, trimmed
    TEXT = "text"  # free text, trimmed, may be empty
    EMAIL = "email"
    DATE = "date"
    TIMESTAMP = "timestamp"
    NUMBER = "number"
    INTEGER = "integer"
    ENUM = "enum"
    TOPICS = "topics"  # a list such as "career;goals", split on ; | or ,


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    # A required column whose value may be empty (the top of the hierarchy has no manager).
    allow_empty: bool = False
    # Sensitive values (names, emails, free text, survey answers) are never
    # copied into the quarantine table or any message.
    sensitive: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # Stored columns reach the DuckDB table; others are read to be validated or
    # not at all (free-text recognition messages are never stored).
    stored: bool = True
    # An id column that must name a row of `employees`.
    references_employee: bool = False


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[Column, ...]
    # Columns that identify one fact; a second row with the same key is a duplicate.
    key: tuple[str, ...]
    required: bool = True
    # The date that places an event in time (checked against the plausible range).
    event_time: str | None = None
    # A behavioural signal: deleted after `[privacy] retention_days`. The employer's HR record
    # (roster, reviews, promotions) is kept, like the roster.
    purged: bool = False
    # How old the newest event may be before the HR summary calls the source stale: each has its
    # own rhythm (1:1s weekly, reviews twice a year). None: never flagged (the newest hire and the
    # last promotion say nothing about whether an export is current).
    stale_after_days: int | None = None
    # Where the model's data window comes from: "start_end" sources mark both its first and its
    # last day, "end" only its last (learning records start whenever an LMS was bought).
    data_window: str | None = None

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.stored)


EMPLOYEE_STATUSES = ("active", "leave", "left")
EXIT_REASONS = ("voluntary", "involuntary")
ONE_ON_ONE_STATUSES = ("held", "cancelled", "no_show")
SURVEY_ITEMS = ("freedom", "voice", "decisions", "growth", "recognition", "goals")

EMPLOYEES = Source(
    name="employees",
    columns=(
        Column("employee_id", Kind.ID, required=True),
        Column("email", Kind.EMAIL, required=True, sensitive=True),
        Column("manager_id", Kind.ID, required=True, allow_empty=True),
        Column("hire_date", Kind.DATE, required=True),
        Column("status", Kind.ENUM, required=True, choices=EMPLOYEE_STATUSES),
        Column("name", Kind.TEXT, sensitive=True),
        Column("department", Kind.TEXT),
        Column("job_title", Kind.TEXT),
        Column("location", Kind.TEXT),
        Column("exit_date", Kind.DATE),
        Column("exit_reason", Kind.ENUM, choices=EXIT_REASONS),
    ),
    key=("employee_id",),
)

PERFORMANCE = Source(
    name="performance",
    columns=(
        Column("employee_id", Kind.ID, required=True, references_employee=True),
        Column("review_date", Kind.DATE, required=True),
        Column("rating", Kind.NUMBER, required=True),
    ),
    key=("employee_id", "review_date"),
    event_time="review_date",
    stale_after_days=200,
)

RECOGNITION = Source(
    name="recognition",
    columns=(
        Column("recipient_id", Kind.ID, required=True, references_employee=True),
        Column("given_at", Kind.TIMESTAMP, required=True),
        Column("giver_id", Kind.ID),
        Column("points", Kind.NUMBER, minimum=0),
        Column("channel", Kind.TEXT),
        Column("message", Kind.TEXT, sensitive=True, stored=False),
    ),
    key=("recipient_id", "giver_id", "given_at"),
    event_time="given_at",
    purged=True,
    stale_after_days=14,
    data_window="start_end",
)

ONE_ON_ONES = Source(
    name="one_on_ones",
    columns=(
        Column("manager_id", Kind.ID, required=True),
        Column("employee_id", Kind.ID, required=True, references_employee=True),
        Column("scheduled_at", Kind.TIMESTAMP, required=True),
        Column("status", Kind.ENUM, required=True, choices=ONE_ON_ONE_STATUSES),
        Column("duration_min", Kind.NUMBER, minimum=0, maximum=24 * 60),
        Column("topics", Kind.TOPICS),
    ),
    key=("manager_id", "employee_id", "scheduled_at"),
    event_time="scheduled_at",
    purged=True,
    stale_after_days=14,
    data_window="start_end",
)

AUTONOMY_SURVEY = Source(
    name="autonomy_survey",
    columns=(
        Column("employee_id", Kind.ID, required=True, references_employee=True),
        Column("responded_at", Kind.TIMESTAMP, required=True),
        Column("item", Kind.TEXT, required=True),
        Column("score", Kind.INTEGER, required=True, sensitive=True, minimum=1, maximum=5),
    ),
    key=("employee_id", "responded_at", "item"),
    event_time="responded_at",
    purged=True,
    stale_after_days=120,
    data_window="start_end",
)

LEARNING = Source(
    name="learning",
    columns=(
        Column("employee_id", Kind.ID, required=True, references_employee=True),
        Column("completed_at", Kind.TIMESTAMP, required=True),
        Column("kind", Kind.TEXT),
    ),
    key=("employee_id", "completed_at", "kind"),
    required=False,
    event_time="completed_at",
    purged=True,
    stale_after_days=90,
    data_window="end",
)

PROMOTIONS = Source(
    name="promotions",
    columns=(
        Column("employee_id", Kind.ID, required=True, references_employee=True),
        Column("effective_date", Kind.DATE, required=True),
    ),
    key=("employee_id", "effective_date"),
    required=False,
    event_time="effective_date",
)

SOURCES: tuple[Source, ...] = (
    EMPLOYEES,
    PERFORMANCE,
    RECOGNITION,
    ONE_ON_ONES,
    AUTONOMY_SURVEY,
    LEARNING,
    PROMOTIONS,
)
SOURCES_BY_NAME: dict[str, Source] = {s.name: s for s in SOURCES}
