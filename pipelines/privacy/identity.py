"""Where a person is in the store: a valid id, the columns that name people, who is known.

Person columns are found in the schema at run time, so a table added by a later migration
is covered by explain and forget without a list to keep up to date.
"""

from __future__ import annotations

import duckdb

from core.db import ID_RE, fetch_value, quote_ident
from core.errors import PrivacyError

# Columns that hold a person's employee id, in any table, now or added by a later migration.
PERSON_COLUMNS: tuple[str, ...] = ("employee_id", "manager_id", "recipient_id", "giver_id")
# Where the person is the other party of someone else's record, the record stays without them:
# their reports move to the skip-level manager, recognition they gave keeps no giver.
# Every other row with their id in a person column is deleted.
KEEP_ROW: dict[tuple[str, str], str] = {("employees", "manager_id"): "skip_level", ("recognition", "giver_id"): "null"}


def check_id(employee_id: str) -> str:
    value = employee_id.strip()
    if not ID_RE.match(value):
        raise PrivacyError("an employee id must be 1 to 128 characters with no control characters")
    return value


def person_columns(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(table, column) for every text column of a stored table named like a person id."""
    rows = conn.execute(
        """
        select c.table_name, c.column_name
        from information_schema.columns c
        join information_schema.tables t
          on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_catalog = current_database() and c.table_schema = 'main' and t.table_type = 'BASE TABLE'
          and c.data_type = 'VARCHAR' and list_contains(?, c.column_name)
        order by 1, 2
        """,
        [list(PERSON_COLUMNS)],
    ).fetchall()
    return [(str(t), str(c)) for t, c in rows]


def is_known(conn: duckdb.DuckDBPyConnection, employee_id: str) -> bool:
    """Whether any table with a person-id column (the roster included) names this id."""
    return any(
        fetch_value(conn, f"select exists (select 1 from {quote_ident(t)} where {quote_ident(c)} = ?)", [employee_id])
        for t, c in person_columns(conn)
    )
