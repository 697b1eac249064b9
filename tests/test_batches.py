"""Digest batches: every manager once, bounded size, departments never mixed when asked."""

from __future__ import annotations

import pytest

from nudges.batches import plan_jobs, render_job
from nudges.catalog import load_catalog
from nudges.render import Contact, Identity
from nudges.select import Pick

IDENTITY = Identity(
    sender="People Team <people@example.com>",
    reply_to="people@example.com",
    unsubscribe="mailto:people@example.com",
    organisation="Example",
)
EVIDENCE = {"days_since_recognition": 60.0}


def pick(employee: str, manager: str) -> Pick:
    return Pick(employee, manager, "recognition_gap", False, 0.5, 0.5, EVIDENCE)


def org(managers: int) -> tuple[dict[str, list[Pick]], dict[str, Contact], dict[str, str | None]]:
    grouped = {f"M{i:02d}": [pick(f"E{i:02d}a", f"M{i:02d}"), pick(f"E{i:02d}b", f"M{i:02d}")] for i in range(managers)}
    contacts = {m: Contact(m, f"Manager {m}", f"{m.lower()}@example.com") for m in grouped}
    contacts |= {p.employee_id: Contact(p.employee_id, f"Person {p.employee_id}", None) for ps in grouped.values() for p in ps}
    departments: dict[str, str | None] = {m: ("Sales" if i % 3 else "Ops") for i, m in enumerate(sorted(grouped))}
    return grouped, contacts, departments


def test_every_manager_is_in_exactly_one_batch_of_at_most_the_batch_size():
    grouped, contacts, departments = org(11)
    jobs = plan_jobs("2026-W48", grouped, contacts, departments, size=4)
    managers = [c.employee_id for job in jobs for c, _ in job.managers]
    assert sorted(managers) == sorted(grouped)
    assert [len(job.managers) for job in jobs] == [4, 4, 3]


def test_department_batches_never_mix_departments():
    grouped, contacts, departments = org(11)
    jobs = plan_jobs("2026-W48", grouped, contacts, departments, by="department", size=3)
    for job in jobs:
        assert {departments[c.employee_id] for c, _ in job.managers} == {job.department}
    assert sorted(c.employee_id for job in jobs for c, _ in job.managers) == sorted(grouped)


def test_a_batch_carries_only_the_contacts_its_digests_name():
    grouped, contacts, departments = org(6)
    (first, *_) = plan_jobs("2026-W48", grouped, contacts, departments, size=2)
    named = {c.employee_id for c, _ in first.managers} | {p.employee_id for _, ps in first.managers for p in ps}
    assert set(first.contacts) == named


def test_an_unknown_partitioning_is_refused():
    grouped, contacts, departments = org(2)
    with pytest.raises(ValueError, match="partition_by"):
        plan_jobs("2026-W48", grouped, contacts, departments, by="location")


def test_a_batch_renders_messages_and_their_nudges_and_skips_an_unusable_address():
    grouped, contacts, departments = org(3)
    contacts["M01"] = Contact("M01", "No Mail", None)
    (job,) = plan_jobs("2026-W48", grouped, contacts, departments, size=10)
    batch = render_job(job, load_catalog(None).by_id(), IDENTITY, threshold=0.3)
    assert [d.manager_id for d, _ in batch.messages] == ["M00", "M02"]
    assert [m for m, _ in batch.skipped] == ["M01"] and "no email address" in batch.skipped[0][1]
    assert all(data.startswith(b"Subject: ") for _, data in batch.messages)
    assert sorted(n[2] for n in batch.nudges) == ["E00a", "E00b", "E02a", "E02b"]
