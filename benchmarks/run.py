"""Time every stage of the real weekly run on a synthetic org, beside each stage's raw limit.

    python benchmarks/run.py --employees 100000 --months 12 [--seed 0] [--score model|rules]
        [--delivery smtp|files] [--weekly] [--cli] [--no-limits] [--workdir DIR] [--json FILE]

The org is generated once per (seed, employees, months) and cached in
`benchmarks/results/cache/run-<seed>-<employees>-<months>/` (gitignored); so is
the model `--score model` trains on it (training is the monthly job, not the
weekly one, and is not timed here). Every invocation then starts from an empty
store and times the product's own stage functions (`pipelines/weekly/`, the
ones the Prefect tasks call) in order:

    ingest -> purge -> follow-through -> features -> score (risk + drivers) -> select -> render -> enqueue
    -> deliver -> report

`deliver` sends into an aiosmtpd sink in its own process (tests/smtp_servers.py),
started and stopped here, and checks the sink received every digest.

Raw limits, measured in the same invocation on the same data:
    ingest   DuckDB `count(*)` over `read_csv` of the same files
    features DuckDB one group-by per event table of the store (count and latest date per person)
    score    `predict_proba` of the same model on as many rows as the stage scores
             (everyone once, plus stars once per driver)
    render   Jinja2 rendering the digest templates with a fixed context, as many times as there are digests
    enqueue  DuckDB inserting the same message bytes into an empty table
    deliver  the sink's own ceiling: 8 reused aiosmtplib connections, no bookkeeping
             (files mode: plain `open().write()` of the same bytes)
Each stage is reported as limit seconds / stage seconds (100% = at the limit).

`--weekly` measures the steady state instead of a first load: the history up to
the last week is ingested and run (untimed; its nudges are then dated a fortnight
earlier, so the timed week checks their follow-through), then the last week's events arrive
as new files (`<source>/last-week.csv`) and ingest + run are timed. Run it at
12 and 36 months to see whether weekly cost grows with history.

`--cli` also times the two commands an operator runs, as subprocesses in a
fresh folder: `retention ingest` and `retention run` (through Prefect), plus
`retention run --direct` on a copy of the store; the difference between the two
runs is Prefect's own start-up and bookkeeping, shown as its own line.
Results print as a table and go to `benchmarks/results/run-<employees>-<months>[-weekly].json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.model_bench import peak_rss_mb  # noqa: E402
from benchmarks.smtp_bench import Wire, run_ceiling, sink_process  # noqa: E402
from core.contract import SOURCES  # noqa: E402
from core.db import few_checkpoints  # noqa: E402
from core.templating import environment  # noqa: E402
from models.stars import flagged as flagged_stars
from nudges.render import ItemView  # noqa: E402
from pipelines.ingest.load import ingest_folder  # noqa: E402
from pipelines.ingest.options import IngestOptions  # noqa: E402
from pipelines.options import threshold  # noqa: E402
from pipelines.privacy.retention import apply_data_rules  # noqa: E402
from pipelines.settings import Settings  # noqa: E402
from pipelines.store import connect
from pipelines.synthetic import SynthSpec, generate  # noqa: E402
from pipelines.weekly.plan import features_stage, scoring_stage, selection_stage
from pipelines.weekly.record import record_run, start_run
from pipelines.weekly.render import (
    enqueue_batch,
    render_batch,
    render_jobs,
    steady_heap,
)
from pipelines.weekly.run import deliver_week, finish_run, followthrough_stage
from pipelines.weeks import IsoWeek  # noqa: E402

END = date(2026, 11, 22)  # a Sunday: the week scored is the one after
WEEK = IsoWeek.containing(END + timedelta(days=1))
CACHE = ROOT / "benchmarks" / "results" / "cache"
RESULTS = ROOT / "benchmarks" / "results"
STAGES = ("ingest", "purge", "followthrough", "features", "score", "select", "render", "enqueue", "deliver", "report")
SPEC_FILE = "spec.json"
WEEKLY_FILE = "last-week.csv"

SHARD = 100_000  # people per generated shard of a large org
ID_COLUMNS = {
    "employees": ("employee_id", "manager_id"),
    "performance": ("employee_id",),
    "recognition": ("recipient_id", "giver_id"),
    "one_on_ones": ("manager_id", "employee_id"),
    "autonomy_survey": ("employee_id",),
    "learning": ("employee_id",),
    "promotions": ("employee_id",),
}
# The timestamp column each event file is cut on for --weekly.
EVENT_TIME = {
    "performance": "review_date",
    "recognition": "given_at",
    "one_on_ones": "scheduled_at",
    "autonomy_survey": "responded_at",
    "learning": "completed_at",
    "promotions": "effective_date",
}


def current_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Timings:
    steps: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str, rows: int | None = None) -> Iterator[dict[str, float]]:
        record: dict[str, float] = {}
        started = time.perf_counter()
        try:
            yield record
        finally:
            record["seconds"] = round(time.perf_counter() - started, 3)
            record["peak_rss_mb"] = peak_rss_mb()
            record["rss_mb"] = current_rss_mb()
            self.steps[name] = {**record, **({"rows": rows} if rows is not None else {})}

    def seconds(self, name: str) -> float:
        return self.steps[name]["seconds"]


# --- data ---------------------------------------------------------------------------------------


def prepare_drop(workdir: Path, spec: SynthSpec) -> Path:
    """The synthetic drop folder for `spec`, generated only when not cached."""
    drop = workdir / "drop"
    spec_text = json.dumps({**asdict(spec), "end": spec.end.isoformat() if spec.end else None}, sort_keys=True)
    marker = workdir / SPEC_FILE
    if marker.is_file() and marker.read_text(encoding="utf-8") == spec_text and drop.is_dir():
        return drop
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    say(f"generating {spec.employees:,} employees x {spec.months} months in {drop} (not timed) ...")
    started = time.perf_counter()
    if spec.employees > SHARD:
        generate_sharded(spec, drop)
    else:
        generate(spec, drop)
    say(f"  generated in {time.perf_counter() - started:.1f} s")
    marker.write_text(spec_text, encoding="utf-8")
    return drop


def generate_sharded(spec: SynthSpec, drop: Path) -> None:
    """A large org as independent companies of SHARD people, ids prefixed per shard, files concatenated.

    The generator holds a whole org in memory (1.5 GB at 100k), so 2M people are made as 20
    shards and merged by DuckDB. Lines DuckDB cannot parse (the generator's deliberately broken
    ones) are dropped in the merge; the other deliberately bad rows stay.
    """
    shards = -(-spec.employees // SHARD)
    parts = drop.parent / "shards"
    shutil.rmtree(parts, ignore_errors=True)
    for k in range(shards):
        size = min(SHARD, spec.employees - k * SHARD)
        say(f"  shard {k + 1}/{shards}: {size:,} people")
        generate(replace(spec, employees=size, seed=spec.seed * 1000 + k), parts / f"{k:02d}")
    drop.mkdir(parents=True)
    conn = duckdb.connect()
    for source, columns in ID_COLUMNS.items():
        selects = []
        for k in range(shards):
            renamed = [f"'S{k:02d}' || {c} as {c}" for c in columns]
            if source == "employees":
                renamed.append(f"replace(email, '@', '.s{k:02d}@') as email")
            selects.append(
                f"select * replace ({', '.join(renamed)}) from read_csv('{parts / f'{k:02d}' / (source + '.csv')}',"
                " all_varchar = true, header = true, ignore_errors = true)"
            )
        conn.execute(f"copy ({' union all '.join(selects)}) to '{drop / (source + '.csv')}' (header true)")
    conn.close()
    shutil.rmtree(parts)


def split_last_week(drop: Path, out: Path) -> tuple[Path, Path]:
    """History (events before the last week) and the last week's events as separate new files."""
    history, week = out / "history", out / "week"
    if (out / "split.v2").is_file():
        return history, week
    shutil.rmtree(out, ignore_errors=True)
    history.mkdir(parents=True)
    week.mkdir()
    cut = END - timedelta(days=6)
    conn = duckdb.connect()
    for path in sorted(drop.glob("*.csv")):
        source = path.stem
        if source not in EVENT_TIME:
            shutil.copy2(path, history / path.name)
            continue
        column = EVENT_TIME[source]
        read = f"read_csv('{path}', all_varchar = true, header = true)"
        conn.execute(
            f"copy (select * from {read} where not coalesce(try_cast({column} as date) between '{cut}' and '{END}', false))"
            f" to '{history / path.name}' (header true)"
        )
        (week / source).mkdir()
        # The last week's events; rows dated after the data ends (planned reviews, bad dates) stay with the history.
        conn.execute(
            f"copy (select * from {read} where try_cast({column} as date) between '{cut}' and '{END}')"
            f" to '{week / source / WEEKLY_FILE}' (header true)"
        )
    conn.close()
    (out / "split.v2").write_text("", encoding="utf-8")
    return history, week


def settings_for(
    folder: Path, *, score: str, model_dir: Path, delivery: str, port: int = 0, memory_limit: str | None = None
) -> Settings:
    return Settings(
        store={"path": folder / "store.duckdb", "memory_limit": memory_limit},
        model={"dir": model_dir, "enabled": score == "model", "max_age_days": 3650},
        delivery={"mode": delivery, "outbox_dir": folder / "outbox"},
        report={"dir": folder / "reports"},
        smtp={"host": "127.0.0.1", "port": port or 25, "tls": "none"},
    )


def ensure_model(workdir: Path, drop: Path) -> Path:
    """A model trained on this org (cached): the weekly run loads it, training is not timed."""
    model_dir = workdir / "model"
    if (model_dir / "model.skops").is_file():
        return model_dir
    from models.persist import save
    from pipelines.training import train_from_store

    say("training the model on this org (monthly job, not timed; cached for later runs) ...")
    train_dir = workdir / "train"
    shutil.rmtree(train_dir, ignore_errors=True)
    train_dir.mkdir()
    settings = settings_for(train_dir, score="model", model_dir=model_dir, delivery="files")
    conn = connect(settings.store.path, memory_limit=settings.store.memory_limit)
    try:
        ingest_folder(conn, drop, IngestOptions(today=END))
        started = time.perf_counter()
        _, trained = train_from_store(conn, settings)
        save(trained.estimator, trained.card, model_dir)
        validation = trained.card.get("validation", {})
        say(f"  trained in {time.perf_counter() - started:.1f} s; validation ROC-AUC {validation.get('roc_auc')}"
            f" (rules {validation.get('rules_roc_auc')})")
    finally:
        conn.close()
    shutil.rmtree(train_dir, ignore_errors=True)
    return model_dir


# --- the product's stages ------------------------------------------------------------------------


def run_stages(
    folder: Path, drop: Path, settings: Settings, timings: Timings, *, prefix: str = ""
) -> dict[str, Any]:
    """ingest -> ... -> report on the store in `folder`, each stage timed; returns counts for the limits."""
    conn = connect(settings.store.path, memory_limit=settings.store.memory_limit)
    facts: dict[str, Any] = {}
    os.sync()  # no write-back of earlier files in progress (see run_cli)
    try:
        with timings.step(prefix + "ingest") as rec:
            report = ingest_folder(conn, drop, IngestOptions(today=END))
            rec["rows"] = report.rows_loaded + report.rows_quarantined
        facts["files_loaded"] = [f.path for f in report.files if f.status == "loaded"]
        run = start_run(conn, WEEK)
        with timings.step(prefix + "purge") as rec:  # [retention] keep_days and the opt-out file
            rules = apply_data_rules(conn, settings, today=END)
            rec["rows"] = sum(rules.purged.values())
        with timings.step(prefix + "followthrough") as rec:
            followthrough_stage(conn, settings, WEEK, run)
            rec["rows"] = run.followthrough_done + run.followthrough_expired + run.followthrough_open
        with timings.step(prefix + "features") as rec:
            features, attributes = features_stage(conn, settings, WEEK)
            rec["rows"] = len(features)
        with timings.step(prefix + "score") as rec:
            stars, scores = scoring_stage(features, settings, attributes)
            # Everyone once; with the model, stars at or above the threshold once more per driver.
            flagged = int(flagged_stars(stars, scores.risk, threshold(settings, scores.method)).sum())
            rec["rows"] = len(features) + (flagged * len(scores.drivers) if scores.method == "model" else 0)
        facts.update(people=len(features), stars=int(stars.sum()), score_method=scores.method,
                     drivers=len(scores.drivers), score_rows=int(rec["rows"]))
        with timings.step(prefix + "select") as rec:
            plan = selection_stage(conn, settings, WEEK, features, stars, scores)
            rec["rows"] = int(stars.sum())
        # Render and enqueue interleave batch by batch (memory stays flat); each is timed on its own.
        render_s = enqueue_s = 0.0
        digests = 0
        with steady_heap(), few_checkpoints(conn):
            for job in render_jobs(conn, plan, settings, run):
                started = time.perf_counter()
                batch = render_batch(job, plan, settings)
                middle = time.perf_counter()
                enqueue_batch(conn, batch, run)
                render_s, enqueue_s = render_s + middle - started, enqueue_s + time.perf_counter() - middle
                digests += len(batch.messages)
                del batch
        started = time.perf_counter()
        record_run(conn, plan, run)
        enqueue_s += time.perf_counter() - started
        timings.steps[prefix + "render"] = {"seconds": round(render_s, 3), "rows": digests, "peak_rss_mb": peak_rss_mb(),
                                            "rss_mb": current_rss_mb()}
        timings.steps[prefix + "enqueue"] = {"seconds": round(enqueue_s, 3), "rows": run.digests_new,
                                             "peak_rss_mb": peak_rss_mb(), "rss_mb": current_rss_mb()}
        with timings.step(prefix + "deliver") as rec:
            files = deliver_week(conn, settings, WEEK, run)
            rec["rows"] = run.digests_new
        with timings.step(prefix + "report"):
            finish_run(conn, plan, settings, run, files)
        facts.update(digests=digests, nudges=run.nudges, delivery=run.delivery, score_note=scores.note)
    finally:
        conn.close()
    return facts


# --- raw limits ------------------------------------------------------------------------------------


def limit_ingest(drop: Path) -> float:
    conn = duckdb.connect()
    started = time.perf_counter()
    for path in sorted(drop.rglob("*.csv")):
        if any(part.startswith("_") for part in path.relative_to(drop).parts):
            continue
        conn.execute("select count(*) from read_csv(?, all_varchar = true, header = true)", [str(path)]).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def limit_features(store: Path) -> float:
    conn = duckdb.connect(str(store), read_only=True)
    started = time.perf_counter()
    for source in SOURCES:
        if source.name == "employees" or source.name not in EVENT_TIME:
            continue
        person = "recipient_id" if source.name == "recognition" else "employee_id"
        conn.execute(
            f"select count(*) from (select {person}, count(*), max({EVENT_TIME[source.name]})"
            f" from {source.name} group by 1)"
        ).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def limit_score(settings: Settings, store: Path, rows: int) -> float | None:
    if not settings.model.enabled:
        return None
    from models.dataset import model_input
    from models.features import compute_features
    from models.score import usable_model

    conn = duckdb.connect(str(store), read_only=True)
    features = compute_features(conn, WEEK.as_of)
    conn.close()
    choice = usable_model(settings.model.dir, enabled=True, max_age_days=settings.model.max_age_days)
    loaded = choice.model
    if loaded is None:
        return None
    X = model_input(features.frame(), loaded.features)
    reps = max(1, int(np.ceil(rows / len(X))))
    big = X.iloc[np.tile(np.arange(len(X)), reps)[:rows]].reset_index(drop=True)
    started = time.perf_counter()
    loaded.estimator.predict_proba(big)
    return time.perf_counter() - started


def limit_render(count: int) -> float:
    env = environment()
    item = ItemView(
        name="Alex Example", title="Recognise recent work", action="Thank Alex for the release in front of the team.",
        question="What part of this work are you proudest of?", evidence="no recognition in 45 days",
        why="People who are seen for their work keep doing it.", skip_level=False, band="",
    )
    context = {
        "subject": "This week: 3 people on your team to back", "week": str(WEEK), "organisation": "Example Corp",
        "headline": "Hi Sam, here is your week with your team", "intro": "A few small things.",
        "items": [item, replace(item, name="Bo Example"), replace(item, name="Cy Example")],
        "credit": "",
        "footer": "Why you got this.", "unsubscribe": "mailto:people@example.com",
    }
    html, text = env.get_template("digest.html"), env.get_template("digest.txt")
    started = time.perf_counter()
    for _ in range(count):
        html.render(context)
        text.render(context)
    return time.perf_counter() - started


def limit_enqueue(store: Path) -> float:
    conn = duckdb.connect(str(store), read_only=True)
    batch = conn.sql(
        "select week, manager_id, message_id, recipient, subject, message, html, nudge_count from outbox"
    ).to_arrow_table()
    conn.close()
    scratch = duckdb.connect(str(store.with_name("limit-enqueue.duckdb")))
    try:
        scratch.register("batch", batch)
        started = time.perf_counter()
        scratch.execute("create or replace table copy as select * from batch")
        scratch.execute("checkpoint")
        return time.perf_counter() - started
    finally:
        scratch.close()
        store.with_name("limit-enqueue.duckdb").unlink(missing_ok=True)


def limit_deliver(store: Path, folder: Path, port: int | None) -> float:
    conn = duckdb.connect(str(store), read_only=True)
    rows = conn.execute("select manager_id, message_id, recipient, subject, message from outbox").fetchall()
    conn.close()
    if port is None:
        target = folder / "limit-files"
        target.mkdir(exist_ok=True)
        started = time.perf_counter()
        for manager_id, _, _, _, data in rows:
            with open(target / f"{manager_id}.eml", "wb") as fh:
                fh.write(data)
        seconds = time.perf_counter() - started
        shutil.rmtree(target)
        return seconds
    wires = [Wire(m, mid, rcpt, subj, "", "people@example.com", rcpt.rsplit("<", 1)[-1].rstrip(">"), bytes(data))
             for m, mid, rcpt, subj, data in rows]
    return float(run_ceiling(wires, port)["seconds"])


# --- command line ----------------------------------------------------------------------------------


def run_cli(folder: Path, drop: Path, model_dir: Path, score: str) -> dict[str, Any]:
    """The operator's two commands, as subprocesses, in a fresh folder; then --direct on a copy."""
    cli = folder / "cli"
    shutil.rmtree(cli, ignore_errors=True)
    cli.mkdir()
    config = (
        f'[store]\npath = "{cli / "store.duckdb"}"\n[model]\ndir = "{model_dir}"\nenabled = {str(score == "model").lower()}\n'
        f'max_age_days = 3650\n[delivery]\noutbox_dir = "{cli / "outbox"}"\n[report]\ndir = "{cli / "reports"}"\n'
    )
    (cli / "retention.toml").write_text(config, encoding="utf-8")
    exe = str(Path(sys.executable).with_name("retention"))
    env = {**os.environ, "RETENTION_CONFIG": str(cli / "retention.toml")}

    def timed(*args: str, cwd: Path) -> float:
        # Let the kernel finish writing back earlier stages' files first: here a write-back in
        # progress stalls file creation for seconds, which is this script's noise, not the command's.
        os.sync()
        started = time.perf_counter()
        subprocess.run([exe, *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        return round(time.perf_counter() - started, 3)

    out: dict[str, Any] = {"ingest": timed("ingest", str(drop), cwd=cli)}
    direct = folder / "cli-direct"
    shutil.rmtree(direct, ignore_errors=True)
    shutil.copytree(cli, direct)
    (direct / "retention.toml").write_text(config.replace(str(cli), str(direct)), encoding="utf-8")
    out["run"] = timed("run", "--week", str(WEEK), cwd=cli)
    env["RETENTION_CONFIG"] = str(direct / "retention.toml")
    out["run_direct"] = timed("run", "--direct", "--week", str(WEEK), cwd=direct)
    out["prefect_overhead"] = round(out["run"] - out["run_direct"], 3)
    out["ingest_plus_run"] = round(out["ingest"] + out["run"], 3)
    out["peak_rss_mb_children"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    shutil.rmtree(direct, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", choices=("model", "rules"), default="model")
    parser.add_argument("--delivery", choices=("smtp", "files"), default="smtp")
    parser.add_argument("--weekly", action="store_true", help="time a steady-state week on top of ingested history")
    parser.add_argument("--cli", action="store_true", help="also time `retention ingest` + `retention run` as commands")
    parser.add_argument("--no-limits", action="store_true", help="skip the raw-limit measurements")
    parser.add_argument("--memory-limit", default=None, help='[store] memory_limit for the run, e.g. "2GB"')
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="where to write results (default benchmarks/results/)")
    args = parser.parse_args(argv)

    spec = SynthSpec(employees=args.employees, months=args.months, seed=args.seed, end=END)
    workdir = args.workdir or CACHE / f"run-{args.seed}-{args.employees}-{args.months}"
    drop = prepare_drop(workdir, spec)
    model_dir = ensure_model(workdir, drop) if args.score == "model" else workdir / "no-model"
    folder = workdir / "bench"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    timings = Timings()
    results: dict[str, Any] = {
        "employees": args.employees, "months": args.months, "seed": args.seed, "week": str(WEEK),
        "score": args.score, "delivery": args.delivery, "weekly": args.weekly, "memory_limit": args.memory_limit,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": os.getloadavg()},
    }
    with (sink_process(folder, 0.0, "run") if args.delivery == "smtp" else _no_sink()) as sink:
        port = sink.port if sink else None
        settings = settings_for(folder, score=args.score, model_dir=model_dir, delivery=args.delivery, port=port or 0,
                                memory_limit=args.memory_limit)
        timed_drop = drop
        if args.weekly:
            history, week_files = split_last_week(drop, workdir / "weekly")
            say("loading history up to the last week and running the week before (not timed) ...")
            warm = Timings()
            run_stages(folder, history, settings, warm, prefix="warm-")
            conn = connect(settings.store.path, memory_limit=settings.store.memory_limit)
            conn.execute("delete from runs")  # the timed run is for the same week: start it afresh
            conn.execute("delete from outbox")
            # The warm run's nudges become a fortnight old, so the timed week checks their follow-through
            # as a steady-state week does (one 14-day window of nudges closes each week).
            before = WEEK.shift(-2)
            conn.execute("update nudges set week = ?", [str(before)])
            conn.execute("update assignments set week = ?, week_start = ?", [str(before), before.monday])
            conn.execute("delete from decisions")
            conn.execute("delete from week_stats")
            conn.execute("delete from manager_history")
            conn.close()
            timed_drop = folder / "drop"
            shutil.copytree(history, timed_drop, copy_function=os.link)
            for source_dir in week_files.iterdir():
                shutil.copytree(source_dir, timed_drop / source_dir.name)
        say(f"timing the weekly run: {args.employees:,} employees, {args.months} months, {args.score} score,"
            f" {args.delivery} delivery{' (steady-state week)' if args.weekly else ''} ...")
        facts = run_stages(folder, timed_drop, settings, timings)
        if sink is not None:
            facts["sink_received"] = sink.count()
        results["stages"] = {s: timings.steps[s] for s in STAGES}
        results["facts"] = facts
        results["stage_seconds"] = round(sum(timings.seconds(s) for s in STAGES), 3)
        if not args.no_limits:
            say("measuring raw limits on the same data ...")
            limits: dict[str, float | None] = {
                "ingest": limit_ingest(timed_drop) if not args.weekly else None,
                "features": limit_features(settings.store.path),
                "score": limit_score(settings, settings.store.path, facts["score_rows"]),
                "select": None,
                "render": limit_render(facts["digests"]),
                "enqueue": limit_enqueue(settings.store.path),
                "deliver": None,
                "report": None,
            }
            if sink is not None:
                limits["deliver"] = limit_deliver(settings.store.path, folder, port)
            elif args.delivery == "files":
                limits["deliver"] = limit_deliver(settings.store.path, folder, None)
            results["limits"] = {
                stage: None if value is None else {
                    "seconds": round(value, 3),
                    "share_of_limit": round(value / max(timings.seconds(stage), 1e-9), 3),
                }
                for stage, value in limits.items()
            }
    if args.cli:
        say("timing `retention ingest` + `retention run` from the command line ...")
        results["cli"] = run_cli(folder, timed_drop if not args.weekly else drop, model_dir, args.score)
    results["peak_rss_mb"] = peak_rss_mb()
    results["machine"]["load_after"] = os.getloadavg()
    print_table(results)
    suffix = "-weekly" if args.weekly else ""
    target = args.json or RESULTS / f"run-{args.employees}-{args.months}{suffix}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    say(f"results: {target}")
    return results


@contextmanager
def _no_sink() -> Iterator[None]:
    yield None


def print_table(results: dict[str, Any]) -> None:
    limits = results.get("limits", {})
    say(f"\n{'stage':<10} {'seconds':>9} {'rows':>11} {'rows/s':>11} {'peak MB':>9} {'limit s':>9} {'% of limit':>10}")
    for stage in STAGES:
        step = results["stages"][stage]
        rows = step.get("rows")
        rate = f"{rows / step['seconds']:,.0f}" if rows and step["seconds"] else "-"
        limit = limits.get(stage)
        share = f"{limit['share_of_limit']:.0%}" if limit else "-"
        say(
            f"{stage:<10} {step['seconds']:>9.3f} {rows if rows is not None else '-':>11} {rate:>11}"
            f" {step['peak_rss_mb']:>9.0f} {limit['seconds'] if limit else '-':>9} {share:>10}"
        )
    say(f"{'total':<10} {results['stage_seconds']:>9.3f}   peak RSS {results['peak_rss_mb']:.0f} MB")
    facts = results["facts"]
    say(f"people {facts['people']:,}, stars {facts['stars']:,}, score {facts['score_method']}"
        f" ({facts['drivers']} drivers), digests {facts['digests']:,}, nudges {facts['nudges']:,},"
        f" delivery {facts.get('delivery') or 'files'}, sink received {facts.get('sink_received', '-')}")
    if "cli" in results:
        c = results["cli"]
        say(f"command line: ingest {c['ingest']:.1f} s + run {c['run']:.1f} s = {c['ingest_plus_run']:.1f} s;"
            f" run --direct {c['run_direct']:.1f} s, so Prefect start-up and bookkeeping {c['prefect_overhead']:.1f} s;"
            f" peak RSS of the commands {c['peak_rss_mb_children']:.0f} MB")


if __name__ == "__main__":
    main()
    sys.exit(0)
