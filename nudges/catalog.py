"""Load and check the nudge catalog (data HR edits, not code)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import ConfigError
from models.drivers import ACTIONABLE

DEFAULT_CATALOG = Path(__file__).parent / "catalog.toml"
# How each kind's evidence is put into words (nudges/evidence.py).
Evidence = Literal["recognition", "credit", "one_on_ones", "career", "goals", "autonomy", "voice", "growth", "plan"]
EVIDENCE_KINDS: tuple[str, ...] = Evidence.__args__  # type: ignore[attr-defined]
# A kind whose driver is "several" (the engagement plan) is worth what restoring
# every other fired kind's signal would be worth together.
SEVERAL = "several"
# Kinds whose follow-through is read from survey answers: never credited per person.
SURVEY_EVIDENCE = frozenset({"autonomy", "voice"})


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: str
    op: Literal[">=", ">", "<=", "<"]
    value: float


class NudgeKind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    title: str = Field(min_length=1, max_length=80)
    enabled: bool = True
    cooldown_days: int = Field(ge=0, le=365)
    driver: str
    # One condition, or a list that must all hold.
    trigger: Trigger | list[Trigger]
    evidence: Evidence
    principle: str
    actions: list[str] = Field(min_length=1)
    questions: list[str] = Field(min_length=1)
    why: list[str] = Field(min_length=1)
    # One sentence of credit for a manager who followed through, with {who} filled in
    # ("the person", "both people", "2 of the 3 people"). None: no credit line for this kind.
    credit: str | None = Field(default=None, max_length=160)

    @field_validator("credit")
    @classmethod
    def _credit_placeholder(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            filled = value.format(who="X")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"credit may only use the placeholder {{who}} ({exc})") from None
        if filled == value:
            raise ValueError("credit must say who with {who}")
        return value

    @model_validator(mode="after")
    def _no_credit_from_surveys(self) -> NudgeKind:
        # Crediting a survey-based kind would tell the manager one person's answers moved.
        if self.credit is not None and self.evidence in SURVEY_EVIDENCE:
            raise ValueError(f"credit is not allowed for {self.evidence} nudges: it would reveal survey answers")
        return self

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value not in (*ACTIONABLE, SEVERAL):
            raise ValueError(f"driver must be one of {', '.join((*ACTIONABLE, SEVERAL))}")
        return value

    @field_validator("trigger")
    @classmethod
    def _some_condition(cls, value: Trigger | list[Trigger]) -> Trigger | list[Trigger]:
        if isinstance(value, list) and not value:
            raise ValueError("trigger needs at least one condition")
        return value

    @property
    def conditions(self) -> list[Trigger]:
        return self.trigger if isinstance(self.trigger, list) else [self.trigger]

    @field_validator("actions")
    @classmethod
    def _placeholders(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                text.format(first_name="X")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"action {text!r} may only use the placeholder {{first_name}} ({exc})") from None
        return value


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: list[NudgeKind] = Field(min_length=1)

    @field_validator("kind")
    @classmethod
    def _unique(cls, value: list[NudgeKind]) -> list[NudgeKind]:
        ids = [k.id for k in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"kind ids must be unique; repeated: {', '.join(dupes)}")
        return value

    def active(self, disabled: Iterable[str] = ()) -> list[NudgeKind]:
        off = set(disabled)
        return [k for k in self.kind if k.enabled and k.id not in off]

    def by_id(self) -> dict[str, NudgeKind]:
        return {k.id: k for k in self.kind}


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or DEFAULT_CATALOG
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"nudge catalog {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"nudge catalog {path}: not valid TOML: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "kind" and isinstance(loc[1], int) and loc[1] < len(data.get("kind", [])):
                kind_id = data["kind"][loc[1]].get("id", f"#{loc[1] + 1}")
                where = f"kind {kind_id!r}: " + ".".join(str(p) for p in loc[2:])
            problems.append(f"{where}: {err['msg']}")
        raise ConfigError(f"nudge catalog {path} is invalid:\n  " + "\n  ".join(problems)) from None
