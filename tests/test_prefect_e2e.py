"""scripts/prefect_e2e.sh: a real Prefect server, pool, deployments and worker run the weekly flow to Completed.

The script mostly waits (a server starting, a worker polling), so when this test
is collected it starts as the session starts (`tests/conftest.py`), runs beside
the rest of the suite, and the test only waits for its result.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "prefect_e2e.sh"
TEST_NAME = "test_the_scheduled_deployment_runs_the_weekly_flow_to_completed"
HAS_TOOLS = shutil.which("curl") is not None and shutil.which("bash") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_e2e() -> tuple[subprocess.Popen[str], Path]:
    """The script running in the background, its stdout and stderr going to one temporary file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETENTION_", "PREFECT_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["E2E_PORT"] = str(free_port())
    log = Path(tempfile.mkstemp(prefix="retention-e2e-", suffix=".log")[1])
    with log.open("w") as out:
        process = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    return process, log


def stop_e2e(process: subprocess.Popen[str]) -> None:
    """SIGINT first: the script's trap stops the server and worker it started."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TOOLS, reason="needs bash and curl")
def test_the_scheduled_deployment_runs_the_weekly_flow_to_completed(request: pytest.FixtureRequest) -> None:
    started = getattr(request.config, "_retention_e2e", None)
    process, log = started if started is not None else start_e2e()
    try:
        returncode = process.wait(timeout=600)
        output = log.read_text()
    finally:
        stop_e2e(process)
        log.unlink(missing_ok=True)
    assert returncode == 0, output[-6000:]
    assert ": COMPLETED" in output
