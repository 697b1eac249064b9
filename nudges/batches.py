"""Digests rendered in batches: bounded memory, and work that can run anywhere.

A week's digests are cut into batches of managers (optionally never mixing
departments). Each batch carries everything needed to render its digests and
their message bytes and touches no store, so a batch can run in this process,
on a thread, or on a Dask worker; the caller queues each batch's messages as
it arrives and forgets them. Peak memory is a few batches, not the whole week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from core.errors import RenderError
from nudges.catalog import NudgeKind
from nudges.mime import digest_bytes
from nudges.render import Contact, Digest, Identity, render_digest
from nudges.select import Pick

PARTITION_BY = ("none", "department")


@dataclass(frozen=True)
class RenderJob:
    """One batch: its managers with their picks, and the contacts those digests may name."""

    week: str
    managers: tuple[tuple[Contact, tuple[Pick, ...]], ...]
    contacts: Mapping[str, Contact]
    department: str | None = None
    # manager -> one line of credit for following through on earlier nudges
    credits: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RenderedBatch:
    messages: list[tuple[Digest, bytes]] = field(default_factory=list)
    # (week, manager, employee, kind, skip_level, priority) for every nudge in those messages
    nudges: list[tuple[str, str, str, str, bool, float]] = field(default_factory=list)
    # (manager id, why) for digests that could not be made; the reason names no person
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # managers whose digest opened with a credit line (their resolved nudges are now credited)
    credited: list[str] = field(default_factory=list)


def plan_jobs(
    week: str,
    grouped: Mapping[str, Sequence[Pick]],
    contacts: Mapping[str, Contact],
    departments: Mapping[str, str | None],
    *,
    by: str = "none",
    size: int = 2000,
    credits: Mapping[str, str] | None = None,
) -> list[RenderJob]:
    """Managers in stable order, cut every `size`; with by="department" a batch never spans two departments."""
    if by not in PARTITION_BY:
        raise ValueError(f"partition_by must be one of {', '.join(PARTITION_BY)}, not {by!r}")
    if size < 1:
        raise ValueError("batch size must be at least 1")

    def department(manager_id: str) -> str:
        return (departments.get(manager_id) or "") if by == "department" else ""

    ordered = sorted(grouped, key=lambda m: (department(m), m))
    jobs: list[RenderJob] = []
    for dept, members in groupby(ordered, key=department):
        managers = list(members)
        for start in range(0, len(managers), size):
            chunk = managers[start : start + size]
            named = {m for m in chunk} | {p.employee_id for m in chunk for p in grouped[m]}
            jobs.append(
                RenderJob(
                    week=week,
                    managers=tuple(
                        (contacts.get(m, Contact(m, None, None)), tuple(grouped[m])) for m in chunk
                    ),
                    contacts={k: contacts[k] for k in named if k in contacts},
                    department=dept or None,
                    credits={m: credits[m] for m in chunk if m in credits} if credits else {},
                )
            )
    return jobs


def render_job(
    job: RenderJob, kinds: Mapping[str, NudgeKind], identity: Identity, threshold: float
) -> RenderedBatch:
    """Every digest of the batch and its message bytes. Pure: no store, no files."""
    batch = RenderedBatch()
    for manager, picks in job.managers:
        try:
            digest = render_digest(
                week=job.week,
                manager=manager,
                picks=picks,
                kinds=kinds,
                contacts=job.contacts,
                identity=identity,
                threshold=threshold,
                credit=job.credits.get(manager.employee_id),
            )
            batch.messages.append((digest, digest_bytes(digest, identity)))
            if manager.employee_id in job.credits:
                batch.credited.append(manager.employee_id)
            batch.nudges.extend(
                (job.week, p.recipient_id, p.employee_id, p.kind, p.skip_level, p.priority) for p in picks
            )
        except RenderError as exc:
            # An unusable manager address costs that one digest, never the run.
            batch.skipped.append((manager.employee_id, str(exc)))
    return batch
