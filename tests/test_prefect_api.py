"""The early local Prefect API: a flow runs against it, it stops after, and it steps aside when it must."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.prefect_api import LocalApi, start_early, using


@pytest.fixture
def own_prefect_home(tmp_path: Path):
    """No API configured, and a Prefect database of this test's own (not the harness's, not ~/.prefect)."""
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    updates = {
        PREFECT_HOME: str(tmp_path / "prefect"),
        PREFECT_API_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
    }
    with temporary_settings(updates=updates, restore_defaults={PREFECT_API_URL}):
        yield


@pytest.mark.slow
def test_a_flow_runs_against_the_early_api_which_stops_afterwards(own_prefect_home: None) -> None:
    from prefect import flow
    from prefect.settings import PREFECT_API_URL

    @flow(name="early-api-check")
    def add(a: int, b: int) -> int:
        return a + b

    api = start_early()
    assert api is not None
    with using(api):
        assert PREFECT_API_URL.value() == api.url
        state = add(2, 3, return_state=True)
    assert state.is_completed() and state.result() == 5
    assert api.process.poll() is not None  # stopped: no server left behind
    assert not PREFECT_API_URL.value()


def test_start_early_steps_aside_when_an_api_is_configured() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert start_early() is None


def test_an_api_that_never_comes_up_is_stopped_and_the_run_goes_on_without_it() -> None:
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    dead = LocalApi(subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"]), "http://127.0.0.1:9/api")
    ran = False
    with temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 30}, restore_defaults={PREFECT_API_URL}):
        with using(dead):
            ran = True
            assert not PREFECT_API_URL.value()  # the flow would start Prefect's own temporary server
    assert ran and dead.process.returncode == 3
