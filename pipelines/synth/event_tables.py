"""Event files as string tables in contract column order, sorted and free of accidental repeats."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from core.contract import (
    AUTONOMY_SURVEY,
    ONE_ON_ONES,
    PERFORMANCE,
    PROMOTIONS,
    RECOGNITION,
)
from pipelines.synth.columns import Ids, choices, dates, timestamps
from pipelines.synth.events import Chunk
from pipelines.synth.simulation import Simulation
from pipelines.synth.vocab import (
    CHANNELS,
    ITEMS,
    LEARNING_KINDS,
    MESSAGES,
    STATUS_1ON1,
    TOPICS,
)

_TOPIC_STRINGS = tuple(";".join(t for i, t in enumerate(TOPICS) if code >> i & 1) for code in range(32))


def concat(chunks: list[Chunk]) -> Chunk:
    """Join the monthly event chunks column by column."""
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _sort_dedupe(cols: Chunk, key: tuple[str, ...]) -> Chunk:
    """Order events by the contract key (time first) and drop accidental repeats.

    Only injected duplicates should reach the files, so their count is exact.
    """
    order = np.lexsort(tuple(cols[k] for k in reversed(key)))
    keys = [cols[k][order] for k in key]
    repeat = np.zeros(order.size, dtype=bool)
    if order.size:
        repeat[1:] = np.logical_and.reduce([k[1:] == k[:-1] for k in keys])
    keep = order[~repeat]
    return {k: v[keep] for k, v in cols.items()}


def event_table(sim: Simulation, ids: Ids, name: str) -> pa.Table:
    """One event file as a string table in contract column order (built on demand to save memory)."""
    chunks = sim.events.pop(name)
    ev = concat(chunks)
    del chunks
    if name == PERFORMANCE.name:
        ev = _sort_dedupe(ev, ("day", "employee"))
        return pa.table(
            {
                "employee_id": ids.take(ev["employee"]),
                "review_date": dates(ev["day"]),
                "rating": pa.array(ev["rating"]).cast(pa.string()),
            }
        )
    if name == PROMOTIONS.name:
        ev = _sort_dedupe(ev, ("day", "employee"))
        return pa.table({"employee_id": ids.take(ev["employee"]), "effective_date": dates(ev["day"])})
    if name == RECOGNITION.name:
        ev = _sort_dedupe(ev, ("sec", "recipient", "giver"))
        return pa.table(
            {
                "recipient_id": ids.take(ev["recipient"]),
                "given_at": timestamps(ev["sec"]),
                "giver_id": ids.take(ev["giver"]),
                "points": pa.array(ev["points"]).cast(pa.string()),
                "channel": choices(CHANNELS, ev["channel"]),
                "message": choices(MESSAGES, ev["message"]),
            }
        )
    if name == ONE_ON_ONES.name:
        ev = _sort_dedupe(ev, ("sec", "manager", "employee"))
        dur = ev["duration"]
        return pa.table(
            {
                "manager_id": ids.take(ev["manager"]),
                "employee_id": ids.take(ev["employee"]),
                "scheduled_at": timestamps(ev["sec"]),
                "status": choices(STATUS_1ON1, ev["status"].astype(np.int64)),
                "duration_min": pa.array(np.maximum(dur, 0), mask=dur < 0).cast(pa.string()),
                "topics": choices(_TOPIC_STRINGS, np.where(ev["topics"] > 0, ev["topics"], -1)),
            }
        )
    if name == AUTONOMY_SURVEY.name:
        ev = _sort_dedupe(ev, ("sec", "employee", "item"))
        return pa.table(
            {
                "employee_id": ids.take(ev["employee"]),
                "responded_at": timestamps(ev["sec"]),
                "item": choices(ITEMS, ev["item"]),
                "score": pa.array(ev["score"]).cast(pa.string()),
            }
        )
    ev = _sort_dedupe(ev, ("sec", "employee", "kind"))
    return pa.table(
        {
            "employee_id": ids.take(ev["employee"]),
            "completed_at": timestamps(ev["sec"]),
            "kind": choices(LEARNING_KINDS, ev["kind"]),
        }
    )
