"""The forgotten registry: a keyed hash per forgotten person, never their id.

`forget` records sha256(store secret || id) in `forgotten`; ingest then drops rows naming
such a person before they load or are quarantined, so a later drop file cannot bring them back.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

import duckdb

from core.contract import Kind, Source
from core.db import fetch_value
from pipelines.privacy.identity import KEEP_ROW

log = logging.getLogger("retention.privacy")


def store_secret(conn: duckdb.DuckDBPyConnection) -> str:
    """The store's random secret (made on first use); forgotten keys are keyed with it."""
    secret = fetch_value(conn, "select secret from store_secret")
    if secret is None:
        conn.execute("insert into store_secret values (1, ?) on conflict do nothing", [secrets.token_hex(32)])
        secret = fetch_value(conn, "select secret from store_secret")
    return str(secret)


def forgotten_key(conn: duckdb.DuckDBPyConnection, employee_id: str) -> str:
    """sha256(secret || id), computed the way the ingest check computes it (in DuckDB)."""
    return str(fetch_value(conn, "select sha256(? || ?)", [store_secret(conn), employee_id]))


def any_forgotten(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether anyone was forgotten: one cheap probe that spares the hashing while nobody was."""
    return bool(fetch_value(conn, "select exists (select 1 from forgotten)"))


def forgotten_among(conn: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> set[str]:
    """The ids among these that were forgotten (refused or skipped by opt-out, explain and forget)."""
    ids = list(ids)
    if not ids or not any_forgotten(conn):
        return set()
    rows = conn.execute(
        "select v from unnest(?) t(v) where sha256(? || v) in (select key from forgotten)", [ids, store_secret(conn)]
    ).fetchall()
    return {r[0] for r in rows}


def drop_forgotten_rows(conn: duckdb.DuckDBPyConnection, source: Source) -> int:
    """Remove forgotten people from ingest's `_checked` rows before they load or are quarantined.

    Costs one `exists` probe while nobody has been forgotten. Their own rows go; their reports
    in an employees file move to the forgotten person's manager in that file; recognition they
    gave keeps no giver; rows naming them as another party (a 1:1 they held) go.
    """
    if not any_forgotten(conn):
        return 0
    columns = [c.name for c in source.columns if c.kind is Kind.ID and c.stored]
    values = " union ".join(f'select "{c}" as v from _checked where "{c}" is not null' for c in columns)
    conn.execute(
        f"create or replace temp table _forgotten_ids as select v as employee_id from ({values})"
        " where sha256($secret || v) in (select key from forgotten)",
        {"secret": store_secret(conn)},
    )
    try:
        if not fetch_value(conn, "select count(*) from _forgotten_ids"):
            return 0
        before = int(fetch_value(conn, "select count(*) from _checked") or 0)
        if source.name == "employees":
            for _ in range(16):  # a chain of forgotten managers, bounded
                moved = fetch_value(
                    conn,
                    "update _checked c set manager_id = (select f.manager_id from _checked f"
                    " where f.employee_id = c.manager_id and f.employee_id <> coalesce(f.manager_id, '') limit 1)"
                    " where c.manager_id in (select employee_id from _forgotten_ids)",
                )
                if not moved:
                    break
            conn.execute("update _checked set manager_id = null where manager_id in (select employee_id from _forgotten_ids)")
        for column in columns:
            rule = KEEP_ROW.get((source.name, column))
            if rule == "null":
                conn.execute(f'update _checked set "{column}" = null where "{column}" in (select employee_id from _forgotten_ids)')
            elif rule is None:
                conn.execute(f'delete from _checked where "{column}" in (select employee_id from _forgotten_ids)')
        dropped = before - int(fetch_value(conn, "select count(*) from _checked") or 0)
    finally:
        conn.execute("drop table if exists _forgotten_ids")
    if dropped:
        log.info("%s: %d rows about forgotten people dropped", source.name, dropped)
    return dropped
