"""Peer implementation of the weekly job: the strongest straightforward pandas version.

    python benchmarks/pandas_peer.py --drop DIR --week 2026-W48 --out DIR [--json FILE]

What it represents: a competent analyst who knows pandas well, writing the
weekly "rules" job WITHOUT our product, for side-by-side benchmarks. It reads
the HR drop folder straight from CSV (pyarrow engine, only the columns it
needs, ids and other repetitive text as categoricals, dates parsed with an
explicit ISO format, numbers parsed once per distinct value), computes the same point-in-time
features as `models/features.sql` with vectorised groupby/sort/bincount on
integer row codes, scores with numpy, selects with a sort plus cumcount, and
writes one digest per manager who has at least one nudge. There is no per-row
Python loop in features, score or selection; rendering builds each pick's
lines with vectorised string operations and then makes one string (and one
MIME message) per digest.

Output per digest, like our product's files mode: `<manager_id>.eml` (a
multipart/alternative message, plain text + simple HTML, what an SMTP server
would receive; built with the classic `email.mime` classes, the cheapest
stdlib way) and `<manager_id>.html` (the HTML part, as a preview).

What it does NOT do (by design; our product does): no store and no ingest
history, no quarantine (unparseable or invalid rows are simply dropped), no
audit trail of decisions, no cooldowns or manager-change checks (none apply to
a first run), no catalog of nudge kinds with triggers (the kind is simply the
signal with the largest gap), no model, no SMTP, no retries, no HR report. Its
emails are plain and short, not our templates.

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
import resource
import sys
import time
from datetime import date, datetime
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any

import numpy as np
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
TS = "ISO8601"  # event dates and times ("2025-11-24 09:00:00"); pandas' ISO parser is its fastest path
DAY = "%Y-%m-%d"

# What the manager reads per kind: title, one action, and how the evidence is put.
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


def _read(path: Path, strings: list[str], categories: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Only the columns we use. Ids and other repetitive text as categoricals (filters, joins, dedup
    and regexes then work on integer codes and a few distinct values); dates and numbers as text,
    parsed by us so that bad values can be dropped."""
    dtype = {c: str for c in strings} | {c: "category" for c in categories}
    return pd.read_csv(path, engine="pyarrow", usecols=list(dtype), dtype=dtype, on_bad_lines="skip")


def _number(values: pd.Series) -> np.ndarray:
    """A categorical of numbers as floats, NaN where missing or not a number (parsed once per category)."""
    parsed = pd.to_numeric(pd.Series(values.cat.categories), errors="coerce").to_numpy(dtype=np.float64)
    codes = values.cat.codes.to_numpy()
    return np.where(codes >= 0, parsed[codes] if parsed.size else np.nan, np.nan)


def _clean(df: pd.DataFrame, keep: np.ndarray, when: str, key: list[str], id_col: str) -> pd.DataFrame:
    """Keep rows that passed the checks and have an id and a parseable time; drop duplicates of the key."""
    stamp = pd.to_datetime(df[when], format=TS, errors="coerce")
    df = df.assign(**{when: stamp})[keep & stamp.notna().to_numpy() & df[id_col].notna().to_numpy()]
    return df.drop_duplicates(subset=key)


def read_drop(drop: Path) -> dict[str, pd.DataFrame]:
    """The drop folder's files, typed and with unparseable or invalid rows dropped."""
    emp = _read(
        drop / "employees.csv", ["employee_id", "email", "manager_id", "hire_date", "status", "name", "exit_date"]
    )
    emp["hire_date"] = pd.to_datetime(emp["hire_date"], format=DAY, errors="coerce")
    emp["exit_date"] = pd.to_datetime(emp["exit_date"], format=DAY, errors="coerce")
    emp["status"] = emp["status"].str.strip().str.lower()
    emp = emp.dropna(subset=["employee_id", "hire_date"])
    emp = emp[emp["status"].isin(["active", "leave", "left"])].drop_duplicates(subset=["employee_id"])
    # A manager id that names nobody is a broken row (our ingest rejects it too).
    named = pd.Index(emp["employee_id"]).get_indexer(emp["manager_id"]) >= 0  # (isin on arrow strings is slow)
    emp = emp[emp["manager_id"].isna().to_numpy() | named].reset_index(drop=True)

    perf = _read(drop / "performance.csv", ["review_date"], ["employee_id", "rating"])
    rating = _number(perf["rating"])
    perf = perf.assign(rating=rating)
    perf = _clean(perf, (rating >= 1.0) & (rating <= 5.0), "review_date", ["employee_id", "review_date"], "employee_id")

    rec = _read(drop / "recognition.csv", ["given_at"], ["recipient_id", "giver_id", "points"])
    points_ok = (rec["points"].isna() | ~np.isnan(_number(rec["points"]))).to_numpy()
    rec = _clean(rec, points_ok, "given_at", ["recipient_id", "giver_id", "given_at"], "recipient_id")

    ooo = _read(drop / "one_on_ones.csv", ["scheduled_at"], ["manager_id", "employee_id", "status", "topics"])
    status_ok = ooo["status"].isin(["held", "cancelled", "no_show"]).to_numpy()
    ooo = _clean(ooo, status_ok, "scheduled_at", ["manager_id", "employee_id", "scheduled_at"], "employee_id")

    srv = _read(drop / "autonomy_survey.csv", ["responded_at"], ["employee_id", "item", "score"])
    score = _number(srv["score"])
    srv = srv.assign(score=score)
    srv = _clean(
        srv,
        (score >= 1) & (score <= 5) & (score % 1 == 0),
        "responded_at",
        ["employee_id", "responded_at", "item"],
        "employee_id",
    )
    return {"employees": emp, "performance": perf, "recognition": rec, "one_on_ones": ooo, "survey": srv}


# ---------------------------------------------------------------- features


def _days(as_of_day: np.datetime64, when: pd.Series) -> np.ndarray:
    """Whole days from the date of `when` to the snapshot date (NaN where `when` is missing)."""
    day = when.to_numpy(dtype="datetime64[us]").astype("datetime64[D]")
    out = (as_of_day - day).astype("timedelta64[D]").astype(np.float64)
    out[np.isnat(day)] = np.nan
    return out


def _latest(codes: np.ndarray, when: pd.Series, n: int) -> pd.Series:
    """The latest time per roster position (NaT where none)."""
    return when.groupby(codes).max().reindex(range(n))


def _since(last: pd.Series, hire: pd.Series, records_begin: pd.Timestamp) -> pd.Series:
    """The date of the last event; without one, the later of hire and where our records begin."""
    fallback = hire if pd.isna(records_begin) else np.maximum(hire, records_begin)
    return last.dt.floor("D").fillna(fallback)


def features(data: dict[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    """Point-in-time features for everyone employed at `as_of`, from events strictly before it (features.sql)."""
    emp = data["employees"]
    snap = pd.Timestamp(as_of)
    snap_day = np.datetime64(as_of.date(), "D")
    employed = (emp["hire_date"] < snap) & (
        (emp["exit_date"] >= snap) | (emp["exit_date"].isna() & (emp["status"] != "left"))
    )
    roster = emp.loc[employed, ["employee_id", "manager_id", "status", "hire_date"]].sort_values("employee_id")
    roster = roster.reset_index(drop=True)
    n = len(roster)
    index = pd.Index(roster["employee_id"])
    hire = roster["hire_date"]

    # Rating: the latest review before the snapshot date.
    perf = data["performance"]
    perf = perf[perf["review_date"] < snap]
    code = index.get_indexer(perf["employee_id"])
    perf = perf[code >= 0].assign(code=code[code >= 0]).sort_values(["code", "review_date"])
    latest_review = perf.drop_duplicates("code", keep="last").set_index("code")["rating"]
    rating_latest = latest_review.reindex(range(n)).to_numpy(dtype=np.float64)

    # Recognition: days since the last one received; "never" counts from where records begin (or hire).
    rec = data["recognition"]
    rec = rec[rec["given_at"] < snap]
    rec_start = rec["given_at"].min().floor("D")
    code = index.get_indexer(rec["recipient_id"])
    last_rec = _latest(code[code >= 0], rec["given_at"][code >= 0], n)
    days_since_recognition = _days(snap_day, _since(last_rec, hire, rec_start))

    # 1:1s: held in 90 days; the last 4 scheduled within 180 days and how many of them did not happen.
    ooo = data["one_on_ones"]
    ooo = ooo[ooo["scheduled_at"] < snap]
    ooo_start = ooo["scheduled_at"].min().floor("D")
    code = index.get_indexer(ooo["employee_id"])
    ooo = ooo[code >= 0].assign(code=code[code >= 0])
    held = (ooo["status"] == "held").to_numpy()
    recent = ooo[(ooo["scheduled_at"] >= snap - pd.Timedelta(days=180)).to_numpy()]
    in_90 = (recent["scheduled_at"] >= snap - pd.Timedelta(days=90)).to_numpy()
    recent_held = (recent["status"] == "held").to_numpy()
    held_90d = np.bincount(recent["code"].to_numpy()[in_90 & recent_held], minlength=n).astype(np.float64)
    recent = recent.sort_values(["code", "scheduled_at"], ascending=[True, False])
    top4 = (recent.groupby("code").cumcount() < 4).to_numpy()
    codes4 = recent["code"].to_numpy()[top4]
    last4 = np.bincount(codes4, minlength=n).astype(np.float64)
    missed4 = np.bincount(codes4[(recent["status"] != "held").to_numpy()[top4]], minlength=n).astype(np.float64)

    # Career talk: the last held 1:1 whose topics (split on ; | or ,) include "career".
    topics = ooo["topics"].str.contains(r"(?:^|[;|,])\s*career\s*(?:$|[;|,])", case=False, regex=True, na=False)
    career = held & topics.to_numpy(dtype=bool)
    last_career = _latest(ooo["code"].to_numpy()[career], ooo["scheduled_at"][career], n)
    days_since_career_talk = _days(snap_day, _since(last_career, hire, ooo_start))

    # Autonomy: the mean of the latest "freedom" and the latest "decisions" answer within the last year.
    srv = data["survey"]
    srv = srv[
        (srv["responded_at"] < snap)
        & (srv["responded_at"] >= snap - pd.Timedelta(days=365))
        & srv["item"].isin(["freedom", "decisions"])
    ]
    code = index.get_indexer(srv["employee_id"])
    srv = srv[code >= 0].assign(code=code[code >= 0]).sort_values("responded_at")
    latest_items = srv.drop_duplicates(["code", "item"], keep="last")
    autonomy_latest = latest_items.groupby("code")["score"].mean().reindex(range(n)).to_numpy(dtype=np.float64)

    return pd.DataFrame(
        {
            "employee_id": roster["employee_id"],
            "manager_id": roster["manager_id"],
            "status": roster["status"],
            "rating_latest": rating_latest,
            "days_since_recognition": days_since_recognition,
            "one_on_ones_held_90d": held_90d,
            "one_on_ones_last4": last4,
            "one_on_ones_missed_last4": missed4,
            "days_since_career_talk": days_since_career_talk,
            "autonomy_latest": autonomy_latest,
        }
    )


# ---------------------------------------------------------------- score


def _ramp(values: np.ndarray, healthy: float, worst: float) -> np.ndarray:
    return np.clip(np.nan_to_num((values - healthy) / (worst - healthy), nan=0.0), 0.0, 1.0)


def score(f: pd.DataFrame) -> pd.DataFrame:
    """Rules score: the equal-weight mean of four signal gaps (0 healthy .. 1 worst), as models/rules.py."""
    held = f["one_on_ones_held_90d"].to_numpy()
    last4 = f["one_on_ones_last4"].to_numpy()
    missed = f["one_on_ones_missed_last4"].to_numpy()
    lapse = np.clip(1.0 - held / _RULES["ONE_ON_ONES_HEALTHY_HELD_90D"], 0.0, 1.0)
    cancelled = np.where(last4 > 0, missed / np.maximum(last4, 1.0), 0.0)
    gaps = np.column_stack(
        [
            _ramp(
                f["days_since_recognition"].to_numpy(),
                _RULES["RECOGNITION_HEALTHY_DAYS"],
                _RULES["RECOGNITION_WORST_DAYS"],
            ),
            np.maximum(lapse, cancelled),
            _ramp(f["days_since_career_talk"].to_numpy(), _RULES["CAREER_HEALTHY_DAYS"], _RULES["CAREER_WORST_DAYS"]),
            _ramp(-f["autonomy_latest"].to_numpy(), -_RULES["AUTONOMY_HEALTHY"], -_RULES["AUTONOMY_WORST"]),
        ]
    )
    rating = f["rating_latest"].to_numpy()
    return f.assign(
        risk=gaps.mean(axis=1),
        kind=np.asarray(SIGNALS)[gaps.argmax(axis=1)],
        star=~np.isnan(rating) & (np.nan_to_num(rating, nan=-np.inf) >= MIN_RATING),
    )


# ---------------------------------------------------------------- select


def select(scored: pd.DataFrame, employees: pd.DataFrame) -> pd.DataFrame:
    """Flagged active stars, routed to their manager (or the skip-level if the manager is not active),
    at most PER_MANAGER per recipient, highest risk first."""
    picks = scored[scored["star"] & (scored["risk"] >= THRESHOLD) & (scored["status"] == "active")]
    lookup = employees.set_index("employee_id")
    mgr = picks["manager_id"]
    mgr_status = lookup["status"].reindex(mgr).to_numpy()
    direct = mgr.notna().to_numpy() & (mgr != picks["employee_id"]).to_numpy() & (mgr_status == "active")
    skip = lookup["manager_id"].reindex(mgr).to_numpy()
    skip_status = lookup["status"].reindex(skip).to_numpy()
    skip_ok = (
        ~direct
        & mgr.notna().to_numpy()
        & (mgr != picks["employee_id"]).to_numpy()
        & pd.notna(skip)
        & (skip != mgr.to_numpy())
        & (skip != picks["employee_id"].to_numpy())
        & (skip_status == "active")
    )
    picks = picks.assign(recipient_id=np.where(direct, mgr.to_numpy(), np.where(skip_ok, skip, None)))
    picks = picks[direct | skip_ok]
    picks = picks.sort_values(["recipient_id", "risk", "employee_id"], ascending=[True, False, True])
    return picks[(picks.groupby("recipient_id").cumcount() < PER_MANAGER).to_numpy()]


# ---------------------------------------------------------------- render and deliver


def render(picks: pd.DataFrame, employees: pd.DataFrame, week: str) -> list[tuple[str, MIMEMultipart, str]]:
    """One (manager_id, message, html) per manager with picks: per-pick lines vectorised, one string per digest."""
    people = employees.set_index("employee_id")
    name = people["name"].reindex(picks["employee_id"]).to_numpy()
    p = picks.assign(name=np.where(pd.isna(name), picks["employee_id"].to_numpy(), name))
    first = p["name"].str.split(" ").str[0]
    kind = p["kind"]
    action = pd.Series("", index=p.index, dtype=str)
    for k, template in ACTIONS.items():  # four kinds, each a vectorised replace
        mask = kind == k
        before, after = template.split("{first}")
        action[mask] = before + first[mask] + after
    evidence = np.select(
        [kind == "recognition", kind == "one_on_ones", kind == "career"],
        [
            "Last recognised " + p["days_since_recognition"].round().astype("Int64").astype(str) + " days ago.",
            p["one_on_ones_held_90d"].astype(int).astype(str)
            + " 1:1s held in the last 90 days; "
            + p["one_on_ones_missed_last4"].astype(int).astype(str)
            + " of the last "
            + p["one_on_ones_last4"].astype(int).astype(str)
            + " did not happen.",
            "Last career conversation "
            + p["days_since_career_talk"].round().astype("Int64").astype(str)
            + " days ago.",
        ],
        "Their room to decide how they work looks smaller than it could be.",
    )
    title = kind.map(TITLES)
    rank = (p.groupby("recipient_id").cumcount() + 1).astype(str)
    p = p.assign(
        text=rank
        + ". "
        + p["name"]
        + " - "
        + title
        + "\n   This week: "
        + action
        + "\n   What we noticed: "
        + evidence
        + "\n\n",
        html="<li><b>"
        + p["name"].map(html.escape)
        + "</b> &ndash; "
        + title
        + "<br>This week: "
        + action.map(html.escape)
        + "<br><i>"
        + pd.Series(evidence, index=p.index).map(html.escape)
        + "</i></li>\n",
    )
    blocks = p.groupby("recipient_id").agg(text=("text", "".join), html=("html", "".join), n=("text", "size"))
    managers = people.reindex(blocks.index)
    out: list[tuple[str, MIMEMultipart, str]] = []
    for manager_id, text_block, html_block, n, mname, memail in zip(
        blocks.index, blocks["text"], blocks["html"], blocks["n"], managers["name"], managers["email"], strict=True
    ):
        if not isinstance(memail, str):
            continue  # no address, no digest
        mname = mname if isinstance(mname, str) else manager_id
        subject = f"This week: {n} {'person' if n == 1 else 'people'} on your team to back"
        hi = mname.split(" ")[0]
        text = (
            f"Week {week}\n\nHi {hi}, here are a few small things you could do this week"
            " for people doing strong work.\n\n"
            f"{text_block}--\nReply to this email to reach the people team.\n"
        )
        page = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(subject)}</title></head><body>'
            f"<h1>Week {week}</h1><p>Hi {html.escape(hi)}, here are a few small things you could do this week "
            f"for people doing strong work.</p><ol>\n{html_block}</ol>"
            "<p>Reply to this email to reach the people team.</p>"
            "</body></html>"
        )
        # The classic MIME classes: about 4x cheaper per message than EmailMessage's header parsing.
        msg = MIMEMultipart("alternative")
        msg["Subject"] = subject
        msg["From"] = SENDER
        msg["To"] = formataddr((mname, memail))
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain="example.com")
        msg.attach(MIMEText(text, "plain", "utf-8"))
        msg.attach(MIMEText(page, "html", "utf-8"))
        out.append((manager_id, msg, page))
    return out


def deliver(digests: list[tuple[str, MIMEMultipart, str]], out: Path) -> None:
    """Files mode: `<manager_id>.eml` (the full message) and `<manager_id>.html` (a preview)."""
    out.mkdir(parents=True, exist_ok=True)
    for manager_id, msg, page in digests:
        (out / f"{manager_id}.eml").write_bytes(msg.as_bytes())
        (out / f"{manager_id}.html").write_text(page, encoding="utf-8")


# ---------------------------------------------------------------- run


def run(drop: Path, week_monday: date, out: Path, smtp: tuple[str, int] | None = None) -> dict:
    """The whole job, timed per stage. `smtp` is accepted for a common signature but this peer only writes files."""
    if smtp is not None:
        raise ValueError("pandas_peer writes files only; use naive_peer for SMTP")
    as_of = datetime.combine(week_monday, datetime.min.time())
    iso = week_monday.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    stages: dict[str, float] = {}
    t = time.perf_counter()
    data = read_drop(drop)
    stages["read"] = time.perf_counter() - t
    t = time.perf_counter()
    feats = features(data, as_of)
    stages["features"] = time.perf_counter() - t
    t = time.perf_counter()
    scored = score(feats)
    stages["score"] = time.perf_counter() - t
    t = time.perf_counter()
    picks = select(scored, data["employees"])
    stages["select"] = time.perf_counter() - t
    t = time.perf_counter()
    digests = render(picks, data["employees"], week)
    stages["render"] = time.perf_counter() - t
    t = time.perf_counter()
    deliver(digests, out)
    stages["deliver"] = time.perf_counter() - t
    sent = {m for m, _, _ in digests}
    return {
        "stages": stages,
        "digests": len(digests),
        "nudges": int(picks["recipient_id"].isin(sent).sum()),
        "people": len(feats),
        "stars": int(scored["star"].sum()),
        "flagged": int((scored["star"] & (scored["risk"] >= THRESHOLD)).sum()),
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
    parser.add_argument("--smtp", type=_smtp, default=None, help="HOST:PORT (not supported by this peer)")
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
