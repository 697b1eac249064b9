"""Render a digest in headless Chromium and save what a manager sees (docs/digest.png).

    python scripts/screenshot_digest.py [--outbox DIR] [--out docs/digest.png] [--width 420]

Without --outbox it runs the demo in a temporary folder first. It picks the
digest with the most different nudge kinds, so the picture shows what varies. Needs the
Debian `chromium` package (or CHROMIUM=/path/to/chrome).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium() -> str | None:
    """The Chromium binary to use, or None when there is none."""
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html: Path, png: Path, *, width: int = 420, height: int = 1800, timeout_s: float = 90) -> Path:
    """Screenshot a local HTML file; network stays off, so external resources would show as missing."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("no Chromium found: install the Debian `chromium` package or set CHROMIUM")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        command = [
            binary,
            "--headless=new",
            "--no-sandbox",  # root in containers; the page is our own local file
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",  # no network: an external image or script would not load
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            html.resolve().as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout_s)
    if not png.is_file() or png.read_bytes()[:8] != PNG_MAGIC:
        raise RuntimeError(f"Chromium did not write a PNG to {png}")
    return png


def fullest_digest(outbox: Path) -> Path:
    """The HTML preview showing the most: most different nudge kinds, then the largest."""

    def shows(path: Path) -> tuple[int, int, str]:
        html = path.read_text(encoding="utf-8")
        kinds = set(re.findall(r'class="kind"[^>]*>([^<]+)<', html))
        return len(kinds), len(html), path.name

    previews = sorted(outbox.rglob("*.html"), key=shows)
    if not previews:
        raise RuntimeError(f"no digest previews (*.html) under {outbox}")
    return previews[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outbox", type=Path, help="an outbox folder to take a digest from (default: run the demo)")
    parser.add_argument("--out", type=Path, default=Path("docs/digest.png"))
    parser.add_argument("--width", type=int, default=420, help="viewport width in CSS pixels (a phone is ~400)")
    parser.add_argument("--height", type=int, default=1800)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        outbox = args.outbox
        if outbox is None:
            demo = [sys.executable, "-c", "from pipelines.cli import main; main()", "demo"]
            subprocess.run(demo, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            outbox = Path(tmp) / "outbox"
        html = fullest_digest(outbox)
        screenshot(html, args.out, width=args.width, height=args.height)
    print(f"wrote {args.out} from {html.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
