"""Prefect's temporary local API, started early so its start-up overlaps ours.

Without a PREFECT_API_URL, a flow starts Prefect's API app in a subprocess on its
first call and waits for it: about 5 s on two cores, after our own imports
(pandas, scikit-learn, skops: about 2 s more). Starting the same app the way
Prefect's `SubprocessASGIServer` does, before those imports, lets the two
overlap. The flow then runs against it through `temporary_settings`, and it
stops when the run ends. Anything unexpected and we step aside: the flow starts
its own server as it always would.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("retention.prefect_api")


@dataclass
class LocalApi:
    process: subprocess.Popen[bytes]
    url: str

    def ready(self, timeout_s: float) -> bool:
        """Wait for the API to answer its health check; False if it died or took too long."""
        import httpx

        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_early() -> LocalApi | None:
    """Launch the API app if this process would otherwise start a temporary one; None if not."""
    from prefect.settings import PREFECT_API_URL, get_current_settings

    if PREFECT_API_URL.value():
        return None  # a real server (or a test harness) is configured: use it
    try:
        import prefect

        port = _free_port()
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "error", "--lifespan", "on"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        log.debug("could not start the local Prefect API early", exc_info=True)
        return None
    return LocalApi(process, f"http://127.0.0.1:{port}/api")


@contextmanager
def using(api: LocalApi | None) -> Iterator[None]:
    """Run the body against `api` when it came up; otherwise as Prefect would on its own. Stops it after.

    It gets as long to come up as Prefect gives its own temporary server.
    """
    if api is None:
        yield
        return
    try:
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        if not api.ready(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())):
            log.debug("the early local Prefect API did not come up; the flow starts its own")
            api.stop()
            yield
            return
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api.url}):
            try:
                yield
            finally:
                _drain_workers()
    finally:
        api.stop()


def _drain_workers() -> None:
    """Send the queued logs and events while the API still listens (as Prefect's test harness does)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    try:
        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)
    except Exception:  # noqa: BLE001 - a log line not sent must not fail a finished run
        log.debug("could not drain Prefect's log and event workers", exc_info=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
