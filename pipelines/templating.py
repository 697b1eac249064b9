"""The Jinja2 environment for everything we render: digests, model card, HR summary.

Templates live in the top-level `templates/` folder of a checkout (shipped as
`nudges/_templates` in a wheel). HTML is autoescaped by extension and undefined
names fail loudly instead of rendering as empty text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from pipelines.errors import RenderError

_ROOT = Path(__file__).resolve().parents[1]


def template_dir() -> Path:
    for candidate in (_ROOT / "templates", _ROOT / "nudges" / "_templates"):
        if (candidate / "digest.html").is_file():
            return candidate
    raise RenderError(f"templates folder not found under {_ROOT}")


def _capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=4)
def environment(folder: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder or template_dir())),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["capitalize_first"] = _capitalize_first
    return env
