"""Our weekly run against a peer written without us, on the same org, in one invocation.

    python benchmarks/compare.py --employees 20000 --peer naive     # pandas + loops + smtplib, over SMTP
    python benchmarks/compare.py --employees 100000 --peer pandas   # vectorised pandas, files

Both sides get the same synthetic drop folder (benchmarks/run.py generates and
caches it) and do the same job in rules mode (the peers implement the rules
score, not our model): read the files, features, score, pick nudges, render
one digest per manager, deliver. With --peer naive both deliver into the same
kind of aiosmtpd sink (ours: pooled connections; the peer: one connection per
message); with --peer pandas both write files. Each side runs in its own
process, so imports and peak memory are its own.

Stages are matched as read = our ingest (which also validates and quarantines
every row), render = our render + enqueue (queueing into the outbox is our
extra), and our HR report counts in our total. Prefect's start-up and
bookkeeping is measured on its own line (`retention run` minus
`retention run --direct` on copies of the same store) and shown beside the
totals, never folded into a stage. A peer that fails (for example runs out of
memory) is reported with its exit status and peak memory.
`--weekly` runs ours as a steady-state week: the history is already in the
store and only the last week's events arrive as new files (what the product
does every week); the peer has no store, so it reads every file, as it would
every week. Results go to benchmarks/results/compare-<peer>-<employees>-<months>[-weekly].json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run import CACHE, END, RESULTS, WEEK, prepare_drop, sink_process  # noqa: E402
from pipelines.synthetic import SynthSpec  # noqa: E402

PEERS = {"naive": ROOT / "benchmarks" / "naive_peer.py", "pandas": ROOT / "benchmarks" / "pandas_peer.py"}
# Our stage(s) matched to each peer stage.
MATCH = {
    "read": ("ingest",),
    "features": ("features",),
    "score": ("score",),
    "select": ("select",),
    "render": ("render", "enqueue"),
    "deliver": ("deliver",),
}
WEEK_TABLES = ("runs", "outbox", "nudges", "decisions", "week_stats", "manager_history")


def say(text: str) -> None:
    print(text, flush=True)


def run_ours(args: argparse.Namespace, workdir: Path, out: Path) -> dict[str, Any]:
    command = [
        sys.executable, str(ROOT / "benchmarks" / "run.py"), "--employees", str(args.employees),
        "--months", str(args.months), "--seed", str(args.seed), "--score", "rules", "--no-limits",
        "--delivery", "smtp" if args.peer == "naive" else "files", "--workdir", str(workdir), "--json", str(out),
    ]
    if args.memory_limit:
        command += ["--memory-limit", args.memory_limit]
    if args.weekly:
        command.append("--weekly")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text(encoding="utf-8"))


def run_peer(args: argparse.Namespace, drop: Path, folder: Path) -> dict[str, Any]:
    out = folder / "peer.json"
    target = folder / "peer-out"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = [sys.executable, str(PEERS[args.peer]), "--drop", str(drop), "--week", str(WEEK),
               "--out", str(target), "--json", str(out)]
    started = time.perf_counter()
    if args.peer == "naive":
        with sink_process(folder, 0.0, "peer") as sink:
            done = subprocess.run([*command, "--smtp", f"127.0.0.1:{sink.port}"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            received = sink.count()
    else:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        received = None
    wall = time.perf_counter() - started
    children_peak = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    if done.returncode != 0 or not out.is_file():
        last = (done.stderr or "").strip().splitlines()[-1:] or [""]
        return {"failed": True, "returncode": done.returncode, "seconds": round(wall, 3),
                "error": last[0][:300], "peak_rss_mb_children": children_peak}
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["wall_seconds"] = round(wall, 3)
    result["sink_received"] = received
    shutil.rmtree(target, ignore_errors=True)
    return result


def prefect_overhead(store: Path, folder: Path, memory_limit: str | None) -> dict[str, float]:
    """`retention run` minus `retention run --direct`, each on a fresh copy of the same ingested store."""
    import duckdb

    exe = str(Path(sys.executable).with_name("retention"))
    seconds: dict[str, float] = {}
    for label, extra in (("flow", []), ("direct", ["--direct"])):
        here = folder / f"prefect-{label}"
        shutil.rmtree(here, ignore_errors=True)
        here.mkdir(parents=True)
        shutil.copy2(store, here / "store.duckdb")
        conn = duckdb.connect(str(here / "store.duckdb"))
        for table in WEEK_TABLES:
            conn.execute(f"delete from {table}")
        conn.close()
        limit = f'memory_limit = "{memory_limit}"\n' if memory_limit else ""
        (here / "retention.toml").write_text(
            f'[store]\npath = "{here / "store.duckdb"}"\n{limit}[model]\nenabled = false\n'
            f'[delivery]\noutbox_dir = "{here / "outbox"}"\n[report]\ndir = "{here / "reports"}"\n',
            encoding="utf-8",
        )
        env = {**os.environ, "RETENTION_CONFIG": str(here / "retention.toml")}
        started = time.perf_counter()
        subprocess.run([exe, "run", "--week", str(WEEK), *extra], cwd=here, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds[label] = round(time.perf_counter() - started, 3)
        shutil.rmtree(here, ignore_errors=True)
    return {**seconds, "prefect": round(seconds["flow"] - seconds["direct"], 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer", choices=sorted(PEERS), default="naive")
    parser.add_argument("--memory-limit", default=None, help='[store] memory_limit for our run, e.g. "2GB"')
    parser.add_argument("--no-prefect", action="store_true", help="skip measuring Prefect's start-up line")
    parser.add_argument("--weekly", action="store_true",
                        help="ours as a steady-state week (history already in the store, only the last week's"
                             " files new); the peer, having no store, reads everything as it would every week")
    parser.add_argument("--ours", type=Path, default=None,
                        help="reuse a benchmarks/run.py result of the same org and settings instead of running ours")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    workdir = CACHE / f"run-{args.seed}-{args.employees}-{args.months}"
    drop = prepare_drop(workdir, SynthSpec(employees=args.employees, months=args.months, seed=args.seed, end=END))
    folder = workdir / "compare"
    folder.mkdir(parents=True, exist_ok=True)
    if args.ours:
        ours = json.loads(args.ours.read_text(encoding="utf-8"))
        wanted = {"employees": args.employees, "months": args.months, "score": "rules", "weekly": args.weekly,
                  "delivery": "smtp" if args.peer == "naive" else "files"}
        if any(ours.get(k) != v for k, v in wanted.items()):
            raise SystemExit(f"{args.ours} is not a run of {wanted}")
        say(f"ours from {args.ours} (benchmarks/run.py with the same org and settings)")
    else:
        say(f"ours on {args.employees:,} employees x {args.months} months (rules score) ...")
        ours = run_ours(args, workdir, folder / "ours.json")
    say(f"{args.peer} peer on the same drop folder ...")
    peer = run_peer(args, drop, folder)
    overhead = None
    if not args.no_prefect:
        say("Prefect's start-up: retention run vs retention run --direct on copies of our store ...")
        overhead = prefect_overhead(workdir / "bench" / "store.duckdb", folder, args.memory_limit)

    rows = []
    for stage, mine in MATCH.items():
        our_s = sum(ours["stages"][s]["seconds"] for s in mine)
        their_s = None if peer.get("failed") else peer["stages"][stage]
        rows.append({"stage": stage, "ours": round(our_s, 3), "peer": their_s,
                     "ratio": None if their_s is None else round(their_s / max(our_s, 1e-9), 2)})
    our_total = ours["stage_seconds"]
    peer_total = None if peer.get("failed") else round(sum(peer["stages"].values()), 3)
    results = {
        "employees": args.employees, "months": args.months, "peer_name": args.peer, "weekly": args.weekly,
        "stages": rows,
        "ours_total": our_total, "peer_total": peer_total,
        "ratio_total": None if peer_total is None else round(peer_total / our_total, 2),
        "prefect": overhead,
        "ratio_total_with_prefect": None if peer_total is None or overhead is None
        else round(peer_total / (our_total + overhead["prefect"]), 2),
        "ours_peak_rss_mb": ours["peak_rss_mb"], "peer": peer,
        "counts": {"ours": {k: ours["facts"][k] for k in ("people", "stars", "digests", "nudges")},
                   "peer": None if peer.get("failed") else
                   {k: peer.get(k) for k in ("people", "stars", "flagged", "digests", "nudges")}},
    }
    print_table(results)
    suffix = "-weekly" if args.weekly else ""
    target = args.json or RESULTS / f"compare-{args.peer}-{args.employees}-{args.months}{suffix}.json"
    target.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    say(f"results: {target}")
    return results


def print_table(results: dict[str, Any]) -> None:
    peer = results["peer"]
    name = results["peer_name"]
    say(f"\n{'stage':<10} {'ours s':>9} {name + ' s':>10} {'peer/ours':>10}")
    for row in results["stages"]:
        their = "-" if row["peer"] is None else f"{row['peer']:.3f}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.1f}x"
        say(f"{row['stage']:<10} {row['ours']:>9.3f} {their:>10} {ratio:>10}")
    if peer.get("failed"):
        say(f"peer FAILED (exit {peer['returncode']}) after {peer['seconds']:.1f} s, peak RSS"
            f" {peer['peak_rss_mb_children']:.0f} MB: {peer['error']}")
    else:
        say(f"{'total':<10} {results['ours_total']:>9.3f} {results['peer_total']:>10.3f} {results['ratio_total']:>9.1f}x")
        say(f"peak RSS: ours {results['ours_peak_rss_mb']:.0f} MB, peer {peer['peak_rss_mb']:.0f} MB")
    if results["prefect"]:
        p = results["prefect"]
        line = f"Prefect start-up and bookkeeping (retention run {p['flow']:.1f} s - run --direct {p['direct']:.1f} s): {p['prefect']:.1f} s"
        if results["ratio_total_with_prefect"] is not None:
            line += f"; total ratio with it added to ours: {results['ratio_total_with_prefect']:.1f}x"
        say(line)
    say(f"counts: ours {results['counts']['ours']}, peer {results['counts']['peer']}")


if __name__ == "__main__":
    main()
