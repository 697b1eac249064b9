"""Settings: one TOML file HR edits, overridden by `RETENTION_*` environment variables.

Loaded once at the edge (CLI callback, flow start) and passed down as a typed
object; nothing in `models/` or `nudges/` reads settings itself. Precedence,
last wins: defaults < TOML file < environment (nested keys joined with `__`,
e.g. `RETENTION_STORE__PATH`). Secrets are `SecretStr` and unwrapped only at
the call that needs them. Reading the file and the environment is `pipelines/config.py`.
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from core.contract import EMAIL_PATTERN, SOURCES_BY_NAME

_ADDRESS = re.compile(EMAIL_PATTERN)

ENV_PREFIX = "RETENTION_"
CONFIG_ENV_VAR = "RETENTION_CONFIG"
# Variables of ours that are not settings: the config file, and the folder prefect.yaml's deployments run in.
OTHER_ENV_VARS = frozenset({CONFIG_ENV_VAR, "RETENTION_HOME"})
DEFAULT_CONFIG_FILE = Path("retention.toml")


class Section(BaseModel):
    """A `[table]` of the config file; unknown keys are typos, so they fail."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class StoreSettings(Section):
    path: Path = Path("retention.duckdb")
    # DuckDB's memory cap, e.g. "2GB" (beyond it, work spills to disk); unset: 80% of RAM.
    memory_limit: str | None = Field(default=None, pattern=r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$")


class IngestSettings(Section):
    # Our column name -> the header in your export, per source file.
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    # strptime format for dates that are not ISO (e.g. "%d/%m/%Y"); ISO always works.
    date_format: str | None = None
    # A file whose rejected share exceeds this is unusable and the ingest stops.
    max_reject_share: float = Field(default=0.25, ge=0.0, le=1.0)
    # Field separator for CSV; None lets DuckDB detect it.
    csv_delimiter: str | None = None
    rating_min: float = 1.0
    rating_max: float = 5.0
    # Events dated before this year are impossible, not history.
    earliest_year: int = Field(default=1950, ge=1900)
    # Further employees columns to keep (headers as in your export), e.g. ["job_level",
    # "high_potential"]: model features unless protected, group columns in the model card.
    extra_columns: list[str] = Field(default_factory=list)

    @field_validator("extra_columns")
    @classmethod
    def _extra_names(cls, value: list[str]) -> list[str]:
        known = {c.name for c in SOURCES_BY_NAME["employees"].columns}
        for name in value:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9 _.-]{0,62}", name):
                raise ValueError(f"extra column {name!r} must be a plain header name (letters, digits, _ . - space)")
            if name.strip().lower() in known:
                raise ValueError(f"{name!r} is already a standard employees column")
        return value

    @field_validator("columns")
    @classmethod
    def _known_sources(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for source, mapping in value.items():
            if source not in SOURCES_BY_NAME:
                raise ValueError(
                    f"unknown source {source!r}; expected one of {', '.join(SOURCES_BY_NAME)}"
                )
            known = {c.name for c in SOURCES_BY_NAME[source].columns}
            for ours in mapping:
                if ours not in known:
                    raise ValueError(
                        f"{source} has no column {ours!r}; expected one of {', '.join(sorted(known))}"
                    )
        return value


class StarSettings(Section):
    # A star has a latest rating of at least this (None: not used) ...
    min_rating: float | None = 4.0
    # ... and/or is in this top share of latest ratings (0.2 = top 20%; None: not used).
    top_share: float | None = Field(default=None, gt=0.0, le=1.0)
    # "any": either rule makes a star; "all": every rule that is set must hold.
    combine: Literal["any", "all"] = "any"
    # An extra employees column (listed in [ingest] extra_columns) flagging stars:
    # true/yes/y/1 means a star. Combined with the rules above like they are with each other.
    flag_column: str | None = None


class RulesSettings(Section):
    """The transparent cold-start score: a weighted mean of signal gaps, 0 to 1."""

    threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    weight_recognition: float = Field(default=1.0, ge=0.0)
    weight_one_on_ones: float = Field(default=1.0, ge=0.0)
    weight_career: float = Field(default=1.0, ge=0.0)
    weight_autonomy: float = Field(default=1.0, ge=0.0)


class ModelSettings(Section):
    """The trained flight-risk model; until one exists the rules score is used."""

    # Where the model file and its card live.
    dir: Path = Path("model")
    # Use the trained model in weekly runs when it exists and is fresh; false forces the rules score.
    enabled: bool = True
    # Label: a voluntary exit within this many days after a snapshot.
    horizon_days: int = Field(default=180, ge=30, le=730)
    # Fewer labelled voluntary leavers than this and no model is trained (cold start).
    min_leavers: int = Field(default=20, ge=1)
    # A model older than this is not used; the rules score is, and the run says why.
    max_age_days: int = Field(default=120, ge=1)
    # Stars whose predicted probability of leaving within the horizon is at least this are considered.
    threshold: float = Field(default=0.15, gt=0.0, lt=1.0)
    # Share of the latest labelled snapshots held out to choose and check the model.
    validation_share: float = Field(default=0.25, gt=0.0, lt=1.0)
    # Validation rotates through groups of held-out people until it holds this many distinct leavers.
    min_validation_leavers: int = Field(default=200, ge=1)
    # Protected attributes are never features unless this is true. Add your own names below.
    allow_protected: bool = False
    protected_extra: list[str] = Field(default_factory=list)
    # Groups smaller than this are never shown on their own in the model card.
    min_group_size: int = Field(default=5, ge=1)
    # Worker processes for training and benchmark fits: -1 every core, -2 all but one, 1 none.
    # Each fit runs one BLAS/OpenMP thread, so the cores are shared out once, never nested.
    n_jobs: int = -1
    # Model selection starts no further candidate after this many seconds (0: no limit);
    # the card says which candidates were not tried.
    time_budget_seconds: float = Field(default=600.0, ge=0.0)

    @field_validator("n_jobs")
    @classmethod
    def _workers(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 workers cannot fit anything; use 1 for no worker processes or -1 for every core")
        return value


class DriverSettings(Section):
    """The healthy level each signal is restored to when measuring what a nudge could change."""

    recognition_days: float = Field(default=14, ge=0)
    recognition_90d: float = Field(default=6, ge=0)
    one_on_ones_held_90d: float = Field(default=6, ge=0)
    career_days: float = Field(default=60, ge=0)
    goals_days: float = Field(default=90, ge=0)
    autonomy: float = Field(default=4.0, ge=1, le=5)
    learning_days: float = Field(default=90, ge=0)
    growth: float = Field(default=4.0, ge=1, le=5)


class NudgeSettings(Section):
    per_manager: int = Field(default=3, ge=1, le=20)
    # A catalog file of your own; None uses the one shipped in nudges/catalog.toml.
    catalog: Path | None = None
    # Kinds switched off here win over `enabled = true` in the catalog.
    disabled_kinds: list[str] = Field(default_factory=list)
    # What the email may say about risk: nothing, a band (higher/elevated), or the score.
    display: Literal["hidden", "band", "score"] = "hidden"
    # Send a short note to managers with nothing to do this week.
    all_clear: bool = False


class FollowthroughSettings(Section):
    # A nudge's window: did the signal it asked for appear within this many days of its week?
    days: int = Field(default=14, ge=1, le=180)


class CatalogSettings(Section):
    # Rank a kind last when its follow-through rate over the last `demote_weeks` weeks falls
    # below this share (0..1) of at least `demote_min_resolved` final outcomes. None: never.
    demote_below: float | None = Field(default=None, ge=0.0, le=1.0)
    demote_min_resolved: int = Field(default=20, ge=1)
    demote_weeks: int = Field(default=12, ge=2, le=104)


class ExperimentSettings(Section):
    # Share of eligible (person, kind) nudges withheld as a control group (0 = no experiment).
    holdout_share: float = Field(default=0.0, ge=0.0, le=0.5)
    # Seeds the coin that assigns each (person, kind); a stored assignment never flips.
    seed: int = 0
    # Voluntary exits are compared within this many days of a pair's first assignment.
    exit_horizon_days: int = Field(default=180, ge=7, le=730)
    # An interval wider than +/- this (in shares, 0.10 = 10 points) reads "not enough data yet":
    # for signal recovery, and (much tighter, exits being rare) for voluntary exits.
    max_half_width: float = Field(default=0.10, gt=0.0, le=1.0)
    exit_max_half_width: float = Field(default=0.01, gt=0.0, le=1.0)


class EmailSettings(Section):
    sender: str = "People Team <people@example.com>"
    reply_to: str = "people@example.com"
    # mailto: or https: address for List-Unsubscribe.
    unsubscribe: str = "mailto:people@example.com?subject=unsubscribe"
    organisation: str = "Example Corp"

    @field_validator("sender", "reply_to", "unsubscribe", "organisation")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\x00"):
            raise ValueError("must be a single line (line breaks would let anyone add mail headers)")
        return value.strip()

    @field_validator("sender", "reply_to")
    @classmethod
    def _address(cls, value: str) -> str:
        parsed = getaddresses([value])
        if len(parsed) != 1 or not _ADDRESS.match(parsed[0][1]):
            raise ValueError("must be one email address, optionally with a name: 'People Team <people@example.com>'")
        return value

    @field_validator("unsubscribe")
    @classmethod
    def _unsubscribe(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")) or any(c in value for c in "<> "):
            raise ValueError("must be a mailto: or https:// address without spaces or angle brackets")
        return value


class DeliverySettings(Section):
    # "files" writes .eml + .html previews under outbox_dir; "smtp" sends through [smtp].
    mode: Literal["files", "smtp"] = "files"
    outbox_dir: Path = Path("outbox")


class ReportSettings(Section):
    """The weekly HR summary: where it goes and how small a group it may show."""

    dir: Path = Path("reports")
    # Groups (departments, band counts) under this many people are pooled or withheld.
    min_group_size: int = Field(default=5, ge=2)


class PrivacySettings(Section):
    """Data rights (pipelines/privacy/): who is never scored, named in a digest or used in training."""

    # A CSV with an `employee_id` header, or a text file of one id per line (# starts a comment);
    # synced into the store's opt-out list at every ingest and weekly run. None: no file.
    opt_out_file: Path | None = None


class RetentionSettings(Section):
    """How long raw signals are kept in the store."""

    # The weekly run deletes recognition, 1:1, survey, learning, performance and promotion
    # events older than this many days. 0 (TOML has no null) or None keeps everything.
    keep_days: int | None = Field(default=1095, ge=90)

    @field_validator("keep_days", mode="before")
    @classmethod
    def _zero_keeps_everything(cls, value: Any) -> Any:
        return None if value in (0, "0") else value


class FlowSettings(Section):
    """The Prefect flows (pipelines/flows.py): where the weekly flow ingests from, retries, promotion."""

    # A drop folder the weekly flow ingests before scoring; unset: use what is in the store.
    drop_dir: Path | None = None
    # Retries of the I/O stages only (ingest, deliver), and the pause between them.
    io_retries: int = Field(default=2, ge=0, le=10)
    io_retry_delay_s: float = Field(default=30.0, ge=0)
    # retrain promotes a new model unless the current one is better by more than this ROC-AUC.
    promote_tolerance: float = Field(default=0.005, ge=0, le=0.5)
    # Digests are rendered and queued in batches of this many managers (memory stays flat);
    # "department" never mixes two departments in one batch.
    batch_size: int = Field(default=2000, ge=1, le=1_000_000)
    partition_by: Literal["none", "department"] = "none"
    # Where batches render: "thread" (this process) or "dask" (a Dask cluster via prefect-dask;
    # a local one with dask_workers processes unless dask_address names a running scheduler).
    task_runner: Literal["thread", "dask"] = "thread"
    dask_workers: int = Field(default=2, ge=1, le=256)
    dask_address: str | None = None


class SmtpSettings(Section):
    """The mail server for SMTP delivery; the password only ever from the environment."""

    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    # Concurrent connections, each reused for this many messages before reconnecting.
    max_connections: int = Field(default=8, ge=1, le=100)
    messages_per_connection: int = Field(default=100, ge=1)
    # Messages started per minute across all connections; 0 means no limit.
    rate_per_minute: float = Field(default=0, ge=0)
    # Tries per message in one run (4xx and broken connections); then it waits for the next run.
    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    # A CA file to trust (e.g. a relay with a private certificate); empty: the system's.
    cert_bundle: Path | None = None
    validate_certs: bool = True


class Settings(BaseSettings):
    """Everything HR and operators can tune; see retention.toml for each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    stars: StarSettings = Field(default_factory=StarSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    drivers: DriverSettings = Field(default_factory=DriverSettings)
    nudges: NudgeSettings = Field(default_factory=NudgeSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    flows: FlowSettings = Field(default_factory=FlowSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    followthrough: FollowthroughSettings = Field(default_factory=FollowthroughSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    experiment: ExperimentSettings = Field(default_factory=ExperimentSettings)

    @model_validator(mode="after")
    def _flag_column_is_kept(self) -> Settings:
        flag = self.stars.flag_column
        if flag is not None and flag.lower() not in {c.lower() for c in self.ingest.extra_columns}:
            raise ValueError(f"[stars] flag_column {flag!r} must also be listed in [ingest] extra_columns")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: the environment beats the TOML file, which arrives as init values.
        return (env_settings, init_settings)
