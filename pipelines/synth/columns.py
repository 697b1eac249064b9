"""Arrow string columns as the files spell values: ids, dates, timestamps, vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.synth.vocab import DEPARTMENTS


@dataclass(frozen=True)
class Ids:
    """Employee id strings (`E000001`) for every simulated person."""

    strings: pa.Array
    width: int

    def take(self, idx: np.ndarray) -> pa.Array:
        """Id strings for person indices; -1 becomes null."""
        return self.strings.take(pa.array(np.maximum(idx, 0), mask=idx < 0))


def _id_width(n: int) -> int:
    """Digits so that unknown ids (the top of the range) never collide with real ones."""
    width = 6
    while 10**width - 10 ** (width - 2) <= n + 1:
        width += 1
    return width


def id_strings(n: int) -> Ids:
    """`E` + zero-padded 1-based number, vectorised."""
    width = _id_width(n)
    nums = pa.array(np.arange(1, n + 1)).cast(pa.string())
    return Ids(pc.utf8_replace_slice(pc.utf8_lpad(nums, width, "0"), 0, 0, "E"), width)


def unknown_ids(rng: np.random.Generator, k: int, width: int) -> pa.Array:
    """Ids from the top of the range (e.g. `E999999`) that name nobody."""
    nums = 10**width - 1 - rng.integers(0, 10 ** (width - 2), k)
    return pc.utf8_replace_slice(pc.utf8_lpad(pa.array(nums).cast(pa.string()), width, "0"), 0, 0, "E")


def dates(day: np.ndarray) -> pa.Array:
    """ISO dates from day numbers."""
    return pa.array(day.astype(np.int32), type=pa.date32()).cast(pa.string())


def timestamps(sec: np.ndarray) -> pa.Array:
    """ISO `YYYY-MM-DD HH:MM:SS` from seconds since 1970."""
    return pa.array(sec, type=pa.timestamp("s")).cast(pa.string())


def choices(values: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    """Strings from a small vocabulary by code; negative codes become null."""
    return pa.array(list(values), type=pa.string()).take(pa.array(np.maximum(codes, 0), mask=codes < 0))


def department_names(dept: np.ndarray) -> pa.Array:
    """Department names; the CEO (no department) sits in "Executive"."""
    return choices((*DEPARTMENTS, "Executive"), np.where(dept < 0, len(DEPARTMENTS), dept))


def exit_dates(left: np.ndarray, exit_day: np.ndarray) -> pa.Array:
    """ISO exit dates for leavers, null for everyone else."""
    return pc.if_else(pa.array(left), dates(np.where(left, exit_day, 0)), pa.scalar(None, pa.string()))


def exit_reasons(left: np.ndarray, exit_type: np.ndarray) -> pa.Array:
    """voluntary/involuntary for leavers, null for everyone else."""
    return choices(("voluntary", "involuntary"), np.where(left, exit_type.astype(np.int64) - 1, -1))
