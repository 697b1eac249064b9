"""One month's events per kind, as column chunks.

Each generator also updates the state the hazard reads next month (last
recognition, held 1:1s, last career talk, last learning), so the signals in
the files and the exits they drive stay one and the same.
"""

from __future__ import annotations

import numpy as np

from pipelines.synth.dates import weekday
from pipelines.synth.org import Org
from pipelines.synth.vocab import (
    CHANNEL_P,
    CHANNELS,
    DURATION_P,
    DURATIONS,
    LEARNING_KINDS,
    LEARNING_P,
    MESSAGES,
    NO_SHOW_P,
    POINTS,
    POINTS_P,
    TOPIC_P,
)

Chunk = dict[str, np.ndarray]


def rank_in_groups(counts: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each consecutive group of the given sizes."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


def recognition(
    org: Org,
    rng: np.random.Generator,
    A: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    mgr: np.ndarray,
    a: int,
    b: int,
) -> Chunk:
    """Peer and manager recognition: person rate x team culture, with droughts."""
    P = org.P
    frac = (hi - lo) / (b - a)
    culture = np.where(mgr >= 0, P["culture"][np.maximum(mgr, 0)], 1.0)
    rate = P["recog_rate"][A] * culture * np.where(P["drought"][A], 0.08, 1.0) * frac
    cnt = rng.poisson(rate)
    who = np.repeat(A, cnt)
    rlo, rhi = np.repeat(lo, cnt), np.repeat(hi, cnt)
    day = weekday(rlo + np.floor(rng.random(who.size) * (rhi - rlo)).astype(np.int64))
    keep = org.keep(who, day, rlo, rhi)
    who, day = who[keep], day[keep]
    sec = day * 86400 + 8 * 3600 + rng.integers(0, 10 * 3600, who.size)
    # giver: the manager (35%) or a peer from the same department employed that day
    dept = org.tree.dept[P["pos"]]
    order = np.argsort(dept[A], kind="stable")
    sorted_a, sorted_dept = A[order], dept[A][order]
    d = dept[who]
    start = np.searchsorted(sorted_dept, d, side="left")
    size = np.searchsorted(sorted_dept, d, side="right") - start
    pick = start + np.floor(rng.random(who.size) * size).astype(np.int64)
    peer = sorted_a[pick]
    peer = np.where(peer == who, sorted_a[start + (pick - start + 1) % np.maximum(size, 1)], peer)
    peer_ok = (peer != who) & (P["hire"][peer] <= day) & (P["exit"][peer] > day)
    boss = org.manager(who, day)
    by_boss = (rng.random(who.size) < 0.35) & (boss >= 0)
    giver = np.where(by_boss, boss, np.where(peer_ok, peer, np.where(boss >= 0, boss, -1)))
    np.maximum.at(P["last_recog"], who, day)
    return {
        "recipient": who,
        "sec": sec,
        "giver": giver,
        "points": rng.choice(np.array(POINTS), size=who.size, p=POINTS_P),
        "channel": rng.choice(len(CHANNELS), size=who.size, p=CHANNEL_P),
        "message": rng.integers(0, len(MESSAGES), who.size),
    }


def one_on_ones(
    org: Org, rng: np.random.Generator, m: int, A: np.ndarray, lo: np.ndarray, hi: np.ndarray, a: int, b: int
) -> Chunk:
    """Scheduled 1:1s at the manager's cadence; the manager's habits decide cancellations."""
    P, tree, occ = org.P, org.tree, org.occ
    sel = P["pos"][A] != 0
    rep, rlo, rhi = A[sel], lo[sel], hi[sel]
    pp = tree.parent[P["pos"][rep]]
    m0 = occ.current(pp, rlo)
    m1 = occ.current(pp, rhi - 1)
    ref = np.where(m0 >= 0, m0, m1)
    cad = np.where(ref >= 0, P["cadence"][np.maximum(ref, 0)], 0)
    who, pp, slo, shi = (np.repeat(x, cad) for x in (rep, pp, rlo, rhi))
    c = np.repeat(cad, cad)
    k = rank_in_groups(cad)
    day = a + np.floor((k + 0.1 + 0.8 * rng.random(who.size)) * (b - a) / np.maximum(c, 1)).astype(np.int64)
    day = weekday(day)
    keep = org.keep(who, day, slo, shi)
    who, pp, day = who[keep], pp[keep], day[keep]
    boss = occ.current(pp, day)
    keep = boss >= 0
    who, day, boss = who[keep], day[keep], boss[keep]
    p_cancel = np.clip(P["cancel"][boss] * np.where(P["busy"][boss], 2.5, 1.0), 0.0, 0.85)
    u = rng.random(who.size)
    status = np.where(u < p_cancel, 1, np.where(u < p_cancel + NO_SHOW_P, 2, 0)).astype(np.int8)
    held = status == 0
    sec = day * 86400 + 9 * 3600 + 1800 * rng.integers(0, 16, who.size)
    duration = np.where(held, rng.choice(np.array(DURATIONS), size=who.size, p=DURATION_P), -1)
    career = held & (rng.random(who.size) < P["career_p"][who])
    bits = career.astype(np.int64)
    for i, p in enumerate(TOPIC_P, start=1):
        bits |= (held & (rng.random(who.size) < p)).astype(np.int64) << i
    counts = np.bincount(who[held], minlength=P.n)
    P["held"][:, m % 3] = np.minimum(counts, 32000)
    np.maximum.at(P["last_career"], who[career], day[career])
    return {
        "manager": boss,
        "employee": who,
        "sec": sec,
        "status": status,
        "duration": duration,
        "topics": bits,
    }


def survey(
    org: Org,
    rng: np.random.Generator,
    A: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    aut: np.ndarray,
    a: int,
    b: int,
) -> Chunk:
    """Monthly autonomy pulse (four items) in the first days of the month."""
    P = org.P
    day = a + rng.integers(0, min(10, b - a), A.size)
    answer = org.keep(A, day, lo, hi) & (rng.random(A.size) < P["resp"][A])
    who, day, aut = A[answer], day[answer], aut[answer]
    latent = np.column_stack([aut[:, None] + P["item_off"][who], org.growth(who, a)])
    score = np.clip(np.rint(latent + rng.normal(0.0, 0.65, latent.shape)), 1, 5).astype(np.int64)
    sec = day * 86400 + 9 * 3600 + rng.integers(0, 11 * 3600, who.size)
    return {
        "employee": np.repeat(who, 4),
        "sec": np.repeat(sec, 4),
        "item": np.tile(np.arange(4), who.size),
        "score": score.ravel(),
    }


def learning(
    org: Org, rng: np.random.Generator, A: np.ndarray, lo: np.ndarray, hi: np.ndarray, a: int, b: int
) -> Chunk:
    """Completed courses, books, workshops: a person-level Poisson rate."""
    P = org.P
    cnt = rng.poisson(P["learn_rate"][A] * (hi - lo) / (b - a))
    who, rlo, rhi = np.repeat(A, cnt), np.repeat(lo, cnt), np.repeat(hi, cnt)
    day = rlo + np.floor(rng.random(who.size) * (rhi - rlo)).astype(np.int64)
    keep = org.keep(who, day, rlo, rhi)
    who, day = who[keep], day[keep]
    np.maximum.at(P["last_learn"], who, day)
    return {
        "employee": who,
        "sec": day * 86400 + rng.integers(7 * 3600, 22 * 3600, who.size),
        "kind": rng.choice(len(LEARNING_KINDS), size=who.size, p=LEARNING_P),
    }


def reviews(org: Org, rng: np.random.Generator, A: np.ndarray, cycle: int, b: int) -> Chunk:
    """Semi-annual reviews for people with 90+ days of tenure; stars stay stars."""
    P = org.P
    day = cycle + rng.integers(0, max(1, min(21, b - cycle)), A.size)
    ok = (P["hire"][A] <= cycle - 90) & (P["exit"][A] > day)
    who, day = A[ok], day[ok]
    raw = 3.25 + 0.75 * P["perf"][who] + rng.normal(0.0, 0.35, who.size)
    return {"employee": who, "day": day, "rating": np.clip(np.rint(raw * 2) / 2, 1.0, 5.0)}
