"""Time SMTP delivery of weekly digests against a local sink, beside what the sink allows and a naive loop.

    python benchmarks/smtp_bench.py [--messages 10000] [--plain-max 500] [--json]

Digests are real: the 20-person test org's week is rendered and queued, and
each message is padded (a hidden block at the end of the HTML part) to a size
between 12 and 20 KB, then copied N times with distinct Message-IDs into the
outbox of a fresh DuckDB store. The sink is aiosmtpd (tests/smtp_servers.py)
in its OWN process on 127.0.0.1, so client and server do not share a CPU or an
event loop. Two settings, each with its own sink process:

  (a) as fast as the sink goes;
  (b) 20 ms of delay before every SMTP reply (a relay across a network).

In each setting three senders push messages into the same sink, one after the other:

  ours     `nudges.delivery.send.send_pending` on the store, default settings
           (8 connections, 100 messages per connection, claims and outcomes
           written to DuckDB as they happen), timed as a whole, store reads included;
  ceiling  a tight aiosmtplib loop: 8 connections opened once and reused for
           everything, no store, no retries, no bookkeeping;
  plain    `smtplib`, one connection per message, one message at a time, on the
           first --plain-max messages (it is slow enough that a sample gives its rate).

Every sender's messages are counted in the sink's log, so a fast number that
lost messages cannot pass. Targets: (a) ours >= 80% of the ceiling;
(b) ours >= 10x the plain loop.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import email
import json
import os
import platform
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiosmtplib  # noqa: E402
import pyarrow as pa  # noqa: E402

from nudges.delivery.outbox import (
    enqueue_table,  # noqa: E402
    envelope_address,
)
from nudges.delivery.send import send_pending  # noqa: E402
from nudges.mime import digest_bytes  # noqa: E402
from nudges.render import Digest, Identity  # noqa: E402
from pipelines.ingest.load import ingest_folder  # noqa: E402
from pipelines.ingest.options import IngestOptions  # noqa: E402
from pipelines.options import send_options
from pipelines.settings import Settings  # noqa: E402
from pipelines.store import connect  # noqa: E402
from pipelines.weekly.run import run_week  # noqa: E402
from pipelines.weeks import IsoWeek  # noqa: E402
from tests.conftest import TODAY, WEEK, tiny_org, write_drop  # noqa: E402

SINK = ROOT / "tests" / "smtp_servers.py"
SIZES = [12_000 + 900 * k for k in range(9)]  # 12 KB .. about 19.5 KB once encoded
CONNECTIONS = 8
CEILING_SHARE_TARGET = 0.80
PLAIN_FACTOR_TARGET = 10.0
SETTINGS = [("a", "no delay", 0.0), ("b", "20 ms before each reply", 20.0)]
_FILLER = (
    "Small, regular gestures matter more than big ones: a specific thank-you, a 1:1 that happens,"
    " a question about what they want to learn next. "
)


@dataclasses.dataclass(frozen=True)
class Wire:
    """One message as every sender gets it: envelope and bytes."""

    manager_id: str
    message_id: str
    header_to: str
    subject: str
    html: str
    sender: str
    recipient: str
    data: bytes


# --- building the digests ---------------------------------------------------------------------


def _identity(settings: Settings) -> Identity:
    e = settings.email
    return Identity(sender=e.sender, reply_to=e.reply_to, unsubscribe=e.unsubscribe, organisation=e.organisation)


def _padded(digest: Digest, identity: Identity, size: int) -> bytes:
    """The digest rebuilt with a hidden block in the HTML until the message is at least `size` bytes."""
    html = digest.html
    for _ in range(5):
        data = digest_bytes(dataclasses.replace(digest, html=html), identity)
        if len(data) >= size:
            return data
        words = (_FILLER * (1 + (size - len(data)) // len(_FILLER)))[: size - len(data) + 64]
        block = f'<div style="display:none">{words}</div>'
        html = html.replace("</body>", block + "</body>", 1) if "</body>" in html else html + block
    return data


def templates(workdir: Path) -> list[Wire]:
    """The tiny org's real digests, padded to the sizes in SIZES (one template per size)."""
    store = workdir / "templates.duckdb"
    conn = connect(store)
    try:
        ingest_folder(conn, write_drop(workdir / "drop", tiny_org()), IngestOptions(today=TODAY))
        settings = Settings(
            delivery={"mode": "files", "outbox_dir": workdir / "outbox"},
            store={"path": store},
            report={"dir": workdir / "reports"},
        )
        run_week(conn, settings, IsoWeek.parse(WEEK))
        rows = conn.execute(
            "select manager_id, message_id, recipient, subject, html, nudge_count, message from outbox order by 1"
        ).fetchall()
    finally:
        conn.close()
    identity = _identity(settings)
    sender = envelope_address(settings.email.sender, what="sender")
    out = []
    for k, size in enumerate(SIZES):
        manager, mid, to, subject, html, count, raw = rows[k % len(rows)]
        parsed: EmailMessage = email.message_from_bytes(bytes(raw), policy=policy.default)  # type: ignore[assignment]
        text_part = parsed.get_body(preferencelist=("plain",))
        assert text_part is not None
        digest = Digest(WEEK, manager, to, subject, text_part.get_content(), html, mid, count)
        data = _padded(digest, identity, size)
        out.append(Wire(manager, mid, to, subject, html, sender, envelope_address(to, what="recipient"), data))
    return out


def fan_out(base: list[Wire], n: int) -> list[Wire]:
    """N messages from the templates, each with its own manager id and Message-ID."""
    messages = []
    for i in range(n):
        t = base[i % len(base)]
        mid = f"<bench-{i:06d}.{WEEK.lower()}@example.com>"
        data = t.data.replace(t.message_id.encode(), mid.encode(), 1)
        messages.append(dataclasses.replace(t, manager_id=f"B{i:06d}", message_id=mid, data=data))
    return messages


def fill_store(path: Path, messages: list[Wire]) -> None:
    conn = connect(path)
    try:
        batch = pa.table(
            {
                "week": [WEEK] * len(messages),
                "manager_id": [m.manager_id for m in messages],
                "message_id": [m.message_id for m in messages],
                "recipient": [m.header_to for m in messages],
                "subject": [m.subject for m in messages],
                "message": pa.array([m.data for m in messages], type=pa.binary()),
                "html": [m.html for m in messages],
                "nudge_count": pa.array([1] * len(messages), type=pa.int32()),
            }
        )
        enqueue_table(conn, batch)
    finally:
        conn.close()


# --- the sink ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Sink:
    port: int
    log: Path

    def count(self) -> int:
        with self.log.open("rb") as fh:
            return sum(1 for _ in fh)


@contextmanager
def sink_process(workdir: Path, delay_ms: float, label: str) -> Iterator[Sink]:
    """tests/smtp_servers.py in its own process, logging accepted Message-IDs."""
    log = workdir / f"sink-{label}.log"
    log.write_text("")
    proc = subprocess.Popen(
        [sys.executable, str(SINK), "--port", "0", "--delay-ms", str(delay_ms), "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip():
            raise SystemExit("the SMTP sink did not start")
        yield Sink(int(line), log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


# --- the three senders ------------------------------------------------------------------------


def run_ours(store: Path, port: int) -> dict[str, Any]:
    conn = connect(store)
    try:
        conn.execute("update outbox set state = 'queued', attempts = 0, last_error = null, delivered_at = null")
        settings = Settings(
            delivery={"mode": "smtp"},
            store={"path": store},
            smtp={"host": "127.0.0.1", "port": port, "tls": "none"},
        )
        started = time.perf_counter()
        report = send_pending(conn, send_options(settings))
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {
        "messages": report.pending,
        "seconds": seconds,
        "states": report.states,
        "deliver_seconds": report.seconds,  # inside `deliver` only, store reads excluded
        "max_connections": settings.smtp.max_connections,
        "messages_per_connection": settings.smtp.messages_per_connection,
    }


def run_ceiling(messages: list[Wire], port: int) -> dict[str, Any]:
    async def go() -> float:
        queue: asyncio.Queue[Wire] = asyncio.Queue()
        for m in messages:
            queue.put_nowait(m)

        async def worker() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
            await client.connect()
            try:
                while not queue.empty():
                    m = queue.get_nowait()
                    await client.sendmail(m.sender, [m.recipient], m.data)
            finally:
                await client.quit()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return time.perf_counter() - started

    return {"messages": len(messages), "seconds": asyncio.run(go()), "connections": CONNECTIONS}


def run_plain(messages: list[Wire], port: int) -> dict[str, Any]:
    started = time.perf_counter()
    for m in messages:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.sendmail(m.sender, [m.recipient], m.data)
    return {"messages": len(messages), "seconds": time.perf_counter() - started}


def counted(sink: Sink, expected: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one sender and check the sink accepted exactly its messages."""
    before = sink.count()
    result = run()
    time.sleep(0.2)  # the sink logs before it replies; this is only for stragglers of a crashed sender
    result["received"] = sink.count() - before
    result["per_second"] = result["messages"] / result["seconds"] if result["seconds"] else 0.0
    if result["received"] != expected:
        raise SystemExit(f"the sink accepted {result['received']} messages, expected {expected}")
    return result


# --- main -------------------------------------------------------------------------------------


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="digests to send in each run (default 10000)")
    parser.add_argument(
        "--plain-max", type=int, default=500, help="messages for the one-connection-per-message loop (default 500)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--only", choices=("a", "b"), help="run one setting only (a quick check; no targets)")
    args = parser.parse_args(argv)
    for key in [k for k in os.environ if k.startswith("RETENTION_")]:
        del os.environ[key]  # default settings, whatever the shell says

    results: dict[str, Any] = {
        "messages": args.messages,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "settings": {},
    }
    with tempfile.TemporaryDirectory(prefix="smtp-bench-") as tmp:
        workdir = Path(tmp)
        messages = fan_out(templates(workdir), args.messages)
        sizes = [len(m.data) for m in messages]
        results["message_bytes"] = {"min": min(sizes), "mean": round(sum(sizes) / len(sizes)), "max": max(sizes)}
        store = workdir / "bench.duckdb"
        fill_store(store, messages)
        plain = messages[: min(args.plain_max, len(messages))]
        for key, label, delay_ms in SETTINGS:
            if args.only and key != args.only:
                continue
            _progress(args, f"({key}) {label}: ...")
            with sink_process(workdir, delay_ms, key) as sink:
                ours = counted(sink, len(messages), lambda: run_ours(store, sink.port))
                _progress(args, f"  ours      {ours['per_second']:8.1f} msg/s")
                ceiling = counted(sink, len(messages), lambda: run_ceiling(messages, sink.port))
                _progress(args, f"  ceiling   {ceiling['per_second']:8.1f} msg/s")
                naive = counted(sink, len(plain), lambda: run_plain(plain, sink.port))
                _progress(args, f"  plain     {naive['per_second']:8.1f} msg/s")
            results["settings"][key] = {
                "label": label,
                "delay_ms": delay_ms,
                "ours": ours,
                "ceiling": ceiling,
                "plain": naive,
                "ours_over_ceiling": ours["per_second"] / ceiling["per_second"],
                "ours_over_plain": ours["per_second"] / naive["per_second"],
            }
    if args.only:
        return results
    a, b = results["settings"]["a"], results["settings"]["b"]
    results["targets"] = {
        "a_ours_over_ceiling": {"target": CEILING_SHARE_TARGET, "value": a["ours_over_ceiling"],
                                "met": a["ours_over_ceiling"] >= CEILING_SHARE_TARGET},
        "b_ours_over_plain": {"target": PLAIN_FACTOR_TARGET, "value": b["ours_over_plain"],
                              "met": b["ours_over_plain"] >= PLAIN_FACTOR_TARGET},
    }
    results["load_after"] = _load()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return results


def _progress(args: argparse.Namespace, line: str) -> None:
    print(line, file=sys.stderr if args.json else sys.stdout, flush=True)


def print_table(results: dict[str, Any]) -> None:
    size = results["message_bytes"]
    print()
    print(
        f"{results['messages']:,} digests of {size['min'] / 1000:.1f}-{size['max'] / 1000:.1f} KB"
        f" (mean {size['mean'] / 1000:.1f} KB); sink: aiosmtpd in its own process on 127.0.0.1;"
        f" {results['cpus']} CPUs, load {results['load_before']} -> {results['load_after']}"
    )
    print()
    print("| setting | sender | messages | seconds | msg/s | ours / this |")
    print("|---|---|---:|---:|---:|---:|")
    names = {
        "ours": "ours: send_pending, 8 connections",
        "ceiling": "ceiling: aiosmtplib, 8 reused connections",
        "plain": "plain: smtplib, 1 connection per message",
    }
    for key, s in results["settings"].items():
        for sender in ("ours", "ceiling", "plain"):
            r = s[sender]
            ratio = "" if sender == "ours" else f"{s['ours']['per_second'] / r['per_second']:.2f}"
            print(
                f"| ({key}) {s['label']} | {names[sender]} | {r['messages']:,} | {r['seconds']:.2f}"
                f" | {r['per_second']:,.1f} | {ratio} |"
            )
    print()
    for name, t in results["targets"].items():
        what = "ours / ceiling in (a)" if name.startswith("a_") else "ours / plain in (b)"
        print(f"target {what} >= {t['target']:g}: {t['value']:.2f} {'MET' if t['met'] else 'NOT MET'}")


if __name__ == "__main__":
    main(sys.argv[1:])
