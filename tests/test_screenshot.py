"""A digest renders in a real browser (headless Chromium), as docs/digest.png shows."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.settings import Settings
from pipelines.weekly.run import run_week
from pipelines.weeks import IsoWeek
from tests.conftest import TODAY, WEEK

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "screenshot_digest.py"
_spec = importlib.util.spec_from_file_location("screenshot_digest", SCRIPT)
assert _spec is not None and _spec.loader is not None
shots = importlib.util.module_from_spec(_spec)
sys.modules["screenshot_digest"] = shots
_spec.loader.exec_module(shots)

needs_chromium = pytest.mark.skipif(shots.chromium() is None, reason="the Debian chromium package is not installed")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == shots.PNG_MAGIC
    return struct.unpack(">II", data[16:24])


@needs_chromium
def test_a_digest_renders_in_headless_chromium_at_phone_width(conn, drop, tmp_path):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    settings = Settings(
        delivery={"outbox_dir": tmp_path / "outbox"},
        store={"path": tmp_path / "r.duckdb"},
        report={"dir": tmp_path / "reports"},
    )
    run_week(conn, settings, IsoWeek.parse(WEEK))
    html = shots.fullest_digest(tmp_path / "outbox")
    png = shots.screenshot(html, tmp_path / "digest.png", width=400, height=1200)
    assert png_size(png) == (400, 1200)
    assert png.stat().st_size > 20_000  # text and colour, not a blank page


def test_the_docs_keep_a_screenshot_the_readme_shows():
    root = Path(__file__).resolve().parents[1]
    assert (root / "docs" / "digest.png").is_file()
    assert "docs/digest.png" in (root / "README.md").read_text(encoding="utf-8")
