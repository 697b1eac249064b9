"""Peer implementation of the weekly job: the naive (but not careless) way.

    python benchmarks/naive_peer.py --drop DIR --week 2026-W48 --out DIR [--smtp HOST:PORT] [--json FILE]

What it represents: a competent analyst writing the weekly "rules" job
WITHOUT our product, the way most such scripts start out: pandas `read_csv`
with default options for the files and a little pandas cleaning (coerce bad
dates and numbers, drop those rows and duplicates), then plain Python. Each
event file is grouped into a dict of lists keyed by employee in ONE pass over
its rows; then a loop over employees computes each person's features from
their own events, scores them with the rules formula, picks nudges per
manager, builds each email with f-strings and an `EmailMessage` (plain text
plus simple HTML), and delivers it: with `--smtp`, one new `smtplib.SMTP`
connection per message (sendmail, then quit); without, `<manager_id>.eml`
(the full message) and `<manager_id>.html` (a preview) per digest in --out,
like our product's files mode.

It is deliberately per-employee Python, not deliberately slow: no quadratic
rescans of an events frame per person, no `iterrows`.

What it does NOT do (our product does): no store and no ingest history, no
quarantine (unparseable or invalid rows are simply dropped), no audit trail,
no cooldowns or manager-change checks (none apply to a first run), no catalog
of nudge kinds with triggers (the kind is the signal with the largest gap), no
model, no TLS/authentication, retries, rate limits or connection reuse, no HR
report. Its emails are plain and short, not our templates.

The score constants are read from `models/rules.py` (parsed, not imported:
importing it pulls in scikit-learn, DuckDB and skops, which an analyst's script
would not load and which would distort the peak memory measured here); the
star rule and the threshold / per-manager defaults come from `models.stars`
and `pipelines.settings`, so the formula stays the same as ours.
"""

from __future__ import annotations

import argparse
import ast
import html
import json
import math
import re
import resource
import smtplib
import sys
import time
from collections import defaultdict
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.stars import StarRule  # (numpy only)
from pipelines.settings import NudgeSettings, RulesSettings  # (pydantic only)


def _rules_constants(path: Path) -> dict[str, Any]:
    """The UPPER_CASE constants of models/rules.py, without importing it (see the module docstring)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name) and target.id.isupper() and node.value is not None:
            found[target.id] = ast.literal_eval(node.value)
    return found


_RULES = _rules_constants(ROOT / "models" / "rules.py")
SIGNALS: tuple[str, ...] = tuple(_RULES["SIGNALS"])  # recognition, one_on_ones, career, autonomy
THRESHOLD = RulesSettings().threshold  # the rules-mode threshold (pipelines.options.threshold)
PER_MANAGER = NudgeSettings().per_manager
MIN_RATING = StarRule().min_rating  # default rule: latest rating >= 4 (no top share, no HRIS flag)

SENDER = "People Team <people@example.com>"

TITLES = {
    "recognition": "Recognise something specific",
    "one_on_ones": "Protect your 1:1",
    "career": "Ask what growth means to them",
    "autonomy": "Hand over a decision you would usually make",
}
ACTIONS = {
    "recognition": "Tell {first} this week which piece of their recent work made a difference, and to whom.",
    "one_on_ones": "Book 30 minutes with {first} this week, keep it, and let them set the agenda.",
    "career": "Give part of your next 1:1 with {first} to where they want to grow, and listen more than you talk.",
    "autonomy": "Pick one decision in {first}'s area that you would normally make yourself and hand it to them.",
}


# ---------------------------------------------------------------- read


def read_drop(drop: Path) -> dict[str, pd.DataFrame]:
    """read_csv with defaults, then the usual cleaning: coerce, drop what did not parse, drop duplicates."""
    emp = pd.read_csv(drop / "employees.csv", on_bad_lines="skip")
    emp["hire_date"] = pd.to_datetime(emp["hire_date"], errors="coerce")
    emp["exit_date"] = pd.to_datetime(emp["exit_date"], errors="coerce")
    emp["status"] = emp["status"].str.strip().str.lower()
    emp = emp.dropna(subset=["employee_id", "hire_date"])
    emp = emp[emp["status"].isin(["active", "leave", "left"])].drop_duplicates(subset=["employee_id"])
    # A manager id that names nobody is a broken row.
    ids = set(emp["employee_id"])
    emp = emp[emp["manager_id"].isna() | (emp["manager_id"] == emp["employee_id"]) | emp["manager_id"].isin(ids)]

    perf = pd.read_csv(drop / "performance.csv", on_bad_lines="skip")
    perf["review_date"] = pd.to_datetime(perf["review_date"], errors="coerce")
    perf["rating"] = pd.to_numeric(perf["rating"], errors="coerce")
    perf = perf.dropna(subset=["employee_id", "review_date", "rating"]).drop_duplicates()
    perf = perf[(perf["rating"] >= 1) & (perf["rating"] <= 5)]

    rec = pd.read_csv(drop / "recognition.csv", on_bad_lines="skip")
    rec["given_at"] = pd.to_datetime(rec["given_at"], errors="coerce")
    points = pd.to_numeric(rec["points"], errors="coerce")
    rec = rec[rec["points"].isna() | points.notna()]
    rec = rec.dropna(subset=["recipient_id", "given_at"]).drop_duplicates()

    ooo = pd.read_csv(drop / "one_on_ones.csv", on_bad_lines="skip")
    ooo["scheduled_at"] = pd.to_datetime(ooo["scheduled_at"], errors="coerce")
    ooo = ooo.dropna(subset=["employee_id", "scheduled_at"]).drop_duplicates()
    ooo = ooo[ooo["status"].isin(["held", "cancelled", "no_show"])]

    srv = pd.read_csv(drop / "autonomy_survey.csv", on_bad_lines="skip")
    srv["responded_at"] = pd.to_datetime(srv["responded_at"], errors="coerce")
    srv["score"] = pd.to_numeric(srv["score"], errors="coerce")
    srv = srv.dropna(subset=["employee_id", "responded_at", "score"]).drop_duplicates()
    srv = srv[(srv["score"] >= 1) & (srv["score"] <= 5)]
    return {"employees": emp, "performance": perf, "recognition": rec, "one_on_ones": ooo, "survey": srv}


# ---------------------------------------------------------------- features


def group_events(data: dict[str, pd.DataFrame]) -> dict[str, dict[str, list[tuple]]]:
    """Each event file as {employee_id: [event, ...]}, built in one pass over its rows."""
    reviews: dict[str, list[tuple]] = defaultdict(list)
    for r in data["performance"].itertuples(index=False):
        reviews[r.employee_id].append((r.review_date, r.rating))
    recognised: dict[str, list[tuple]] = defaultdict(list)
    for r in data["recognition"].itertuples(index=False):
        recognised[r.recipient_id].append((r.given_at,))
    meetings: dict[str, list[tuple]] = defaultdict(list)
    for r in data["one_on_ones"].itertuples(index=False):
        meetings[r.employee_id].append((r.scheduled_at, r.status, r.topics))
    answers: dict[str, list[tuple]] = defaultdict(list)
    for r in data["survey"].itertuples(index=False):
        answers[r.employee_id].append((r.responded_at, r.item, r.score))
    return {"reviews": reviews, "recognition": recognised, "meetings": meetings, "survey": answers}


def _topics(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    return [t.strip().lower() for t in re.split(r"[;|,]", text) if t.strip()]


def features(data: dict[str, pd.DataFrame], events: dict[str, dict[str, list[tuple]]], as_of: datetime) -> list[dict]:
    """One dict per employee on the roster at `as_of`, from their events strictly before it (features.sql)."""
    snap = pd.Timestamp(as_of)
    snap_day = snap.normalize()
    cut90, cut180, cut365 = (snap - pd.Timedelta(days=d) for d in (90, 180, 365))
    # Where records begin: "never" is counted from there (or from hire, if later).
    rec = data["recognition"]
    rec_start = rec.loc[rec["given_at"] < snap, "given_at"].min().normalize()
    ooo = data["one_on_ones"]
    ooo_start = ooo.loc[ooo["scheduled_at"] < snap, "scheduled_at"].min().normalize()

    people: list[dict] = []
    for e in data["employees"].sort_values("employee_id").itertuples(index=False):
        left = isinstance(e.status, str) and e.status == "left"
        employed = e.hire_date < snap and (e.exit_date >= snap if not pd.isna(e.exit_date) else not left)
        if not employed:
            continue
        eid = e.employee_id
        start = max(e.hire_date, rec_start)  # (max keeps the hire date when rec_start is NaT)

        reviews = [(d, r) for d, r in events["reviews"].get(eid, []) if d < snap]
        rating_latest = max(reviews)[1] if reviews else math.nan

        given = [t for (t,) in events["recognition"].get(eid, []) if t < snap]
        since = max(given).normalize() if given else start
        days_since_recognition = (snap_day - since).days

        past = [m for m in events["meetings"].get(eid, []) if m[0] < snap]
        held_90d = sum(1 for t, s, _ in past if t >= cut90 and s == "held")
        last4 = sorted((m for m in past if m[0] >= cut180), key=lambda m: m[0], reverse=True)[:4]
        missed_last4 = sum(1 for _, s, _ in last4 if s != "held")
        career = [t for t, s, topics in past if s == "held" and "career" in _topics(topics)]
        since_career = max(career).normalize() if career else max(e.hire_date, ooo_start)
        days_since_career_talk = (snap_day - since_career).days

        latest_item: dict[str, tuple] = {}
        for t, item, score in events["survey"].get(eid, []):
            wanted = item in ("freedom", "decisions") and cut365 <= t < snap
            if wanted and (item not in latest_item or t > latest_item[item][0]):
                latest_item[item] = (t, score)
        autonomy_latest = sum(s for _, s in latest_item.values()) / len(latest_item) if latest_item else math.nan

        people.append(
            {
                "employee_id": eid,
                "manager_id": e.manager_id if isinstance(e.manager_id, str) else None,
                "status": e.status,
                "rating_latest": float(rating_latest),
                "days_since_recognition": float(days_since_recognition),
                "one_on_ones_held_90d": float(held_90d),
                "one_on_ones_last4": float(len(last4)),
                "one_on_ones_missed_last4": float(missed_last4),
                "days_since_career_talk": float(days_since_career_talk),
                "autonomy_latest": float(autonomy_latest),
            }
        )
    return people


# ---------------------------------------------------------------- score


def _ramp(value: float, healthy: float, worst: float) -> float:
    if math.isnan(value):
        return 0.0  # unknown counts as healthy
    return min(max((value - healthy) / (worst - healthy), 0.0), 1.0)


def score(person: dict) -> None:
    """Rules score: the equal-weight mean of four signal gaps (0 healthy .. 1 worst), as models/rules.py."""
    held, last4, missed = (
        person["one_on_ones_held_90d"],
        person["one_on_ones_last4"],
        person["one_on_ones_missed_last4"],
    )
    lapse = min(max(1.0 - held / _RULES["ONE_ON_ONES_HEALTHY_HELD_90D"], 0.0), 1.0)
    cancelled = missed / max(last4, 1.0) if last4 > 0 else 0.0
    gaps = {
        "recognition": _ramp(
            person["days_since_recognition"], _RULES["RECOGNITION_HEALTHY_DAYS"], _RULES["RECOGNITION_WORST_DAYS"]
        ),
        "one_on_ones": max(lapse, cancelled),
        "career": _ramp(person["days_since_career_talk"], _RULES["CAREER_HEALTHY_DAYS"], _RULES["CAREER_WORST_DAYS"]),
        "autonomy": _ramp(-person["autonomy_latest"], -_RULES["AUTONOMY_HEALTHY"], -_RULES["AUTONOMY_WORST"]),
    }
    person["risk"] = sum(gaps[s] for s in SIGNALS) / len(SIGNALS)
    person["kind"] = max(SIGNALS, key=lambda s: gaps[s])  # the first of equal gaps, in SIGNALS order
    rating = person["rating_latest"]
    person["star"] = not math.isnan(rating) and rating >= MIN_RATING


# ---------------------------------------------------------------- select


def select(people: list[dict], employees: dict[str, dict]) -> dict[str, list[dict]]:
    """Flagged active stars, routed to their manager (or the skip-level if the manager is not active),
    at most PER_MANAGER per recipient, highest risk first."""

    def can_receive(manager: str | None, eid: str) -> bool:
        return manager is not None and manager != eid and employees.get(manager, {}).get("status") == "active"

    by_recipient: dict[str, list[dict]] = defaultdict(list)
    for p in people:
        if not (p["star"] and p["risk"] >= THRESHOLD and p["status"] == "active"):
            continue
        manager = p["manager_id"]
        if can_receive(manager, p["employee_id"]):
            by_recipient[manager].append(p)
        elif manager is not None and manager != p["employee_id"]:
            skip = employees.get(manager, {}).get("manager_id")
            if skip is not None and skip != manager and can_receive(skip, p["employee_id"]):
                by_recipient[skip].append(p)
    picks: dict[str, list[dict]] = {}
    for recipient in sorted(by_recipient):
        ranked = sorted(by_recipient[recipient], key=lambda p: (-p["risk"], p["employee_id"]))
        picks[recipient] = ranked[:PER_MANAGER]
    return picks


# ---------------------------------------------------------------- render and deliver


def _evidence(p: dict) -> str:
    if p["kind"] == "recognition":
        return f"Last recognised {p['days_since_recognition']:.0f} days ago."
    if p["kind"] == "one_on_ones":
        return (
            f"{p['one_on_ones_held_90d']:.0f} 1:1s held in the last 90 days; "
            f"{p['one_on_ones_missed_last4']:.0f} of the last {p['one_on_ones_last4']:.0f} did not happen."
        )
    if p["kind"] == "career":
        return f"Last career conversation {p['days_since_career_talk']:.0f} days ago."
    return "Their room to decide how they work looks smaller than it could be."


def render(picks: dict[str, list[dict]], employees: dict[str, dict], week: str) -> list[tuple[str, EmailMessage, str]]:
    """One (manager_id, message, html) per manager with picks, built with f-strings."""
    digests: list[tuple[str, EmailMessage, str]] = []
    for manager_id, chosen in picks.items():
        manager = employees.get(manager_id, {})
        email = manager.get("email")
        if not isinstance(email, str):
            continue  # no address, no digest
        mname = manager.get("name")
        mname = mname if isinstance(mname, str) else manager_id
        n = len(chosen)
        subject = f"This week: {n} {'person' if n == 1 else 'people'} on your team to back"
        hi = mname.split(" ")[0]
        text = (
            f"Week {week}\n\nHi {hi}, here are a few small things you could do this week"
            " for people doing strong work.\n\n"
        )
        items = ""
        for i, p in enumerate(chosen, start=1):
            name = employees.get(p["employee_id"], {}).get("name")
            name = name if isinstance(name, str) else p["employee_id"]
            action = ACTIONS[p["kind"]].format(first=name.split(" ")[0])
            evidence = _evidence(p)
            text += f"{i}. {name} - {TITLES[p['kind']]}\n   This week: {action}\n   What we noticed: {evidence}\n\n"
            items += (
                f"<li><b>{html.escape(name)}</b> &ndash; {TITLES[p['kind']]}<br>This week: {html.escape(action)}"
                f"<br><i>{html.escape(evidence)}</i></li>\n"
            )
        text += "--\nReply to this email to reach the people team.\n"
        page = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(subject)}</title></head><body>'
            f"<h1>Week {week}</h1><p>Hi {html.escape(hi)}, here are a few small things you could do this week "
            f"for people doing strong work.</p><ol>\n{items}</ol><p>Reply to this email to reach the people team.</p>"
            "</body></html>"
        )
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = SENDER
        msg["To"] = formataddr((mname, email))
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain="example.com")
        msg.set_content(text)
        msg.add_alternative(page, subtype="html")
        digests.append((manager_id, msg, page))
    return digests


def deliver(digests: list[tuple[str, EmailMessage, str]], out: Path, smtp: tuple[str, int] | None) -> None:
    """SMTP: a new connection per message (sendmail, then quit). Files: .eml and .html per digest."""
    if smtp is not None:
        host, port = smtp
        sender = parseaddr(SENDER)[1]
        for _, msg, _ in digests:
            server = smtplib.SMTP(host, port)
            server.sendmail(sender, [parseaddr(msg["To"])[1]], msg.as_string())  # str: smtplib makes the CRLFs
            server.quit()
        return
    out.mkdir(parents=True, exist_ok=True)
    for manager_id, msg, page in digests:
        (out / f"{manager_id}.eml").write_bytes(msg.as_bytes())
        (out / f"{manager_id}.html").write_text(page, encoding="utf-8")


# ---------------------------------------------------------------- run


def run(drop: Path, week_monday: date, out: Path, smtp: tuple[str, int] | None = None) -> dict:
    """The whole job, timed per stage."""
    as_of = datetime.combine(week_monday, datetime.min.time())
    iso = week_monday.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    stages: dict[str, float] = {}
    t = time.perf_counter()
    data = read_drop(drop)
    stages["read"] = time.perf_counter() - t
    t = time.perf_counter()
    events = group_events(data)
    people = features(data, events, as_of)
    stages["features"] = time.perf_counter() - t
    t = time.perf_counter()
    for person in people:
        score(person)
    stages["score"] = time.perf_counter() - t
    t = time.perf_counter()
    employees = {
        r["employee_id"]: r
        for r in data["employees"][["employee_id", "manager_id", "status", "name", "email"]].to_dict("records")
    }
    for r in employees.values():
        r["manager_id"] = r["manager_id"] if isinstance(r["manager_id"], str) else None
    picks = select(people, employees)
    stages["select"] = time.perf_counter() - t
    t = time.perf_counter()
    digests = render(picks, employees, week)
    stages["render"] = time.perf_counter() - t
    t = time.perf_counter()
    deliver(digests, out, smtp)
    stages["deliver"] = time.perf_counter() - t
    return {
        "stages": stages,
        "digests": len(digests),
        "nudges": sum(len(picks[m]) for m, _, _ in digests),
        "people": len(people),
        "stars": sum(1 for p in people if p["star"]),
        "flagged": sum(1 for p in people if p["star"] and p["risk"] >= THRESHOLD),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _week(text: str) -> date:
    year, week = text.strip().split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def _smtp(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drop", type=Path, required=True)
    parser.add_argument("--week", type=_week, required=True, help="ISO week, e.g. 2026-W48")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smtp", type=_smtp, default=None, help="HOST:PORT; without it digests are written to --out")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.drop, args.week, args.out, args.smtp)
    for stage, seconds in result["stages"].items():
        print(f"{stage:<10} {seconds:8.3f} s")
    print(f"{'total':<10} {sum(result['stages'].values()):8.3f} s")
    print(
        f"people {result['people']}  stars {result['stars']}  stars flagged {result['flagged']}  "
        f"digests {result['digests']}  nudges {result['nudges']}  peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
