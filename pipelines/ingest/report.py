"""What ingestion says back: per file, and for the folder."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FileReport:
    path: str
    source: str
    status: str  # loaded | unchanged | empty
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    warning: str = ""


@dataclass
class IngestReport:
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def changed(self) -> bool:
        return any(f.status == "loaded" for f in self.files)

    @property
    def warnings(self) -> list[str]:
        return [f.warning for f in self.files if f.warning]
