"""The audit row every data-rights action writes (explain, opt-out, forget).

Kept apart so each action records itself the same way; `forget` later scrubs the subject's
id from earlier rows, so the detail holds an id at most, never a name or an address.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from core.db import utcnow


def write_audit(conn: duckdb.DuckDBPyConnection, actor: str, action: str, detail: dict[str, Any]) -> None:
    """One row: when, who, what, and the detail as sorted JSON."""
    conn.execute("insert into audit values (?, ?, ?, ?)", [utcnow(), actor, action, json.dumps(detail, sort_keys=True)])
