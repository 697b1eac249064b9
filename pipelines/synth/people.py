"""Everyone ever employed: a growable column store and the traits a new person is born with."""

from __future__ import annotations

import math

import numpy as np

from pipelines.synth.hazard import HAZ
from pipelines.synth.vocab import FIRST, LAST, LOCATION_P, LOCATIONS

NEVER = 10_000_000  # exit day for people still employed (far future)


class People:
    """Growable column store for everyone ever employed (rows only appended)."""

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.cap = capacity
        self.cols: dict[str, np.ndarray] = {}

    def add(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Append people; returns their indices."""
        k = len(next(iter(values.values())))
        if not self.cols:
            self.cols = {
                name: np.zeros((self.cap, *v.shape[1:]), dtype=v.dtype) for name, v in values.items()
            }
        if self.n + k > self.cap:
            self.cap = max(2 * self.cap, self.n + k)
            for name, col in self.cols.items():
                grown = np.zeros((self.cap, *col.shape[1:]), dtype=col.dtype)
                grown[: self.n] = col[: self.n]
                self.cols[name] = grown
        for name, v in values.items():
            self.cols[name][self.n : self.n + k] = v
        self.n += k
        return np.arange(self.n - k, self.n)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name][: self.n]


def lognormal(rng: np.random.Generator, mean: float, sigma: float, k: int) -> np.ndarray:
    """Positive person-level rates with a given mean and spread."""
    return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, k)


def traits(rng: np.random.Generator, pos: np.ndarray, hire: np.ndarray) -> dict[str, np.ndarray]:
    """Latent traits and fresh state for new people (state as of their hire day)."""
    k = pos.size
    career_never = rng.random(k) < 0.3
    cancel_heavy = rng.random(k) < 0.15
    return {
        "pos": pos.astype(np.int64),
        "hire": hire.astype(np.int64),
        "exit": np.full(k, NEVER, dtype=np.int64),
        "exit_type": np.zeros(k, dtype=np.int8),
        "first": rng.integers(0, len(FIRST), k).astype(np.int16),
        "last": rng.integers(0, len(LAST), k).astype(np.int16),
        "loc": rng.choice(len(LOCATIONS), size=k, p=LOCATION_P).astype(np.int8),
        "seniority": (rng.random(k) < 0.35).astype(np.int8),
        "perf": rng.normal(0.0, 1.0, k),
        "recog_rate": lognormal(rng, 1.0, 0.7, k),
        "drought": rng.random(k) < 0.19,
        "career_p": np.where(career_never, rng.uniform(0.0, 0.03, k), rng.beta(2.5, 4.0, k)),
        "auto_base": rng.normal(3.7, 0.5, k),
        "item_off": rng.normal(0.0, 0.3, (k, 3)),
        "growth_base": rng.normal(3.5, 0.5, k),
        "frailty": rng.normal(0.0, HAZ.frailty_sd, k),
        "resp": rng.beta(3.0, 2.0, k),
        "learn_rate": lognormal(rng, 0.3, 0.8, k),
        "cancel": np.where(cancel_heavy, rng.beta(5.0, 6.0, k), rng.beta(1.5, 12.0, k)),
        "cadence": rng.choice(np.array([1, 2, 4]), size=k, p=[0.2, 0.65, 0.15]).astype(np.int64),
        "culture": lognormal(rng, 1.0, 0.4, k),
        "style": rng.normal(0.0, 0.35, k),
        "busy": rng.random(k) < 0.1,
        "auto_ar": rng.normal(0.0, 0.2, k),
        "growth_ar": rng.normal(0.0, 0.17, k),
        "last_recog": hire.astype(np.int64),
        "last_career": hire.astype(np.int64),
        "last_learn": hire.astype(np.int64),
        "held": np.zeros((k, 3), dtype=np.int16),
        "auto_hist": np.full((k, 4), np.nan),
        "msp": np.zeros(k),
        "promotions": np.zeros(k, dtype=np.int16),
        "leave_start": np.full(k, -1, dtype=np.int64),
        "leave_end": np.full(k, -1, dtype=np.int64),
        "stale_mgr": np.full(k, -1, dtype=np.int64),
        "cum_h": np.zeros(k),
        "at_risk": np.zeros(k, dtype=np.int16),
    }
