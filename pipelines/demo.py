"""What the demo may do to a store: never mix synthetic people into one that holds real ones."""

from __future__ import annotations

from pathlib import Path

from core.errors import ConfigError
from pipelines.store import open_store

# Every ingest records the folder it read (pipelines/ingest/load.py), whoever started it.
INGESTED_FOLDERS_SQL = "select distinct json_extract_string(summary, '$.folder') from runs where kind = 'ingest'"


def guard_demo_store(store_path: Path, data: Path) -> None:
    """Refuse a store that holds data ingested from any folder but the demo's own."""
    path = Path(store_path)
    if not path.exists():
        return
    with open_store(path) as conn:
        folders = {r[0] for r in conn.execute(INGESTED_FOLDERS_SQL).fetchall() if r[0]}
    foreign = folders - {str(data.resolve())}
    if foreign:
        raise ConfigError(
            f"the store {path} already holds data ingested from {sorted(foreign)[0]}; the demo will not mix"
            " synthetic people into it. Point RETENTION_STORE__PATH at another file or run in an empty folder"
        )
