"""What a week reads about people from the store: routing, contacts, cooldowns, managers.

Queries take a set of ids and return plain values, so a 2M-person roster is never held
as Python objects when the week only needs its flagged stars and their managers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import duckdb

from core.db import (
    with_ids,
)
from nudges.render import Contact
from nudges.select import Person
from pipelines.weeks import IsoWeek


def load_people(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, Person]:
    """These people with their managers and skip-level managers: all that routing them needs
    (a 2M-person roster as Python objects is 400 MB the week's flagged stars never use)."""
    rows = with_ids(
        conn,
        ids,
        """
        with m as (select e.employee_id, e.manager_id from employees e join _wanted_ids using (employee_id)),
        needed as (
            select employee_id from m
            union select manager_id from m where manager_id is not null
            union select e.manager_id from employees e join m on e.employee_id = m.manager_id
                where e.manager_id is not null
        )
        select e.employee_id, e.manager_id, e.status from employees e join needed using (employee_id)
        """,
    )
    return {str(e): Person(manager_id=m, status=s) for e, m, s in rows}

def current_managers(conn: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    rows = conn.execute("select employee_id, manager_id from employees where status <> 'left'").fetchall()
    return {str(e): m for e, m in rows}

def load_contacts(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, Contact]:
    rows = employees_among(conn, ids, "name, email")
    return {e: Contact(e, n, m) for e, n, m in rows}

def employees_among(conn: duckdb.DuckDBPyConnection, ids: Iterable[str], columns: str) -> list[tuple[Any, ...]]:
    """`employee_id, <columns>` of these people."""
    return with_ids(
        conn, ids, f"select e.employee_id, {columns} from employees e join _wanted_ids w using (employee_id)"
    )

def load_last_sent(conn: duckdb.DuckDBPyConnection, week: IsoWeek) -> dict[tuple[str, str], date]:
    """When each (person, kind) was last nudged before this week, for cooldowns."""
    rows = conn.execute(
        "select employee_id, kind, max(week) from nudges where week < ? group by 1, 2", [str(week)]
    ).fetchall()
    return {(e, k): IsoWeek.parse(w).monday for e, k, w in rows}

def load_previous_managers(
    conn: duckdb.DuckDBPyConnection, week: IsoWeek, ids: Iterable[str]
) -> dict[str, str | None]:
    """These people's managers as the last run before this week recorded them."""
    rows = with_ids(
        conn,
        ids,
        """
        select employee_id, arg_max(manager_id, week) from manager_history
        where week < ? and employee_id in (select employee_id from _wanted_ids) group by employee_id
        """,
        [str(week)],
    )
    return {str(e): m for e, m in rows}

def load_departments(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, str | None]:
    return {e: d for e, d in employees_among(conn, ids, "department")}

def active_managers(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "select distinct m.employee_id from employees e join employees m on e.manager_id = m.employee_id"
        " where m.status = 'active' and e.status <> 'left' and e.employee_id <> m.employee_id"
    ).fetchall()
    return [r[0] for r in rows]
