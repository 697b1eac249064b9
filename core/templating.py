"""The Jinja2 environment for everything we render: digests, model card, HR summary.

Templates live in the top-level `templates/` folder of a checkout (shipped as
`nudges/_templates` in a wheel). HTML is autoescaped by extension and undefined
names fail loudly instead of rendering as empty text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import css_inline
import jinja2

from core.errors import RenderError

_ROOT = Path(__file__).resolve().parents[1]


def template_dir() -> Path:
    for candidate in (_ROOT / "templates", _ROOT / "nudges" / "_templates"):
        if (candidate / "digest.html").is_file():
            return candidate
    raise RenderError(f"templates folder not found under {_ROOT}")


def _capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:]


# Email clients drop <style>; styles must sit on each element. The digest template's markup
# is static (Jinja fills text, never classes), so its CSS is inlined once into the template
# source when it loads instead of into every rendered digest (0.17 ms each).
INLINED_TEMPLATES = frozenset({"digest.html"})
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class _InliningLoader(jinja2.FileSystemLoader):
    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if template in INLINED_TEMPLATES:
            source = _INLINER.inline(source)
        return source, filename, uptodate


@lru_cache(maxsize=4)
def environment(folder: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=_InliningLoader(str(folder or template_dir())),
        auto_reload=False,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["capitalize_first"] = _capitalize_first
    env.filters["plural"] = plural
    env.filters["minute"] = to_the_minute
    return env


def plural(count: int, noun: str, many: str | None = None) -> str:
    """"1 week", "3 weeks": the count with the noun that agrees with it."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def to_the_minute(stamp: str | None) -> str:
    """An ISO timestamp as "2026-11-30 07:02" (seconds and zone offsets are noise to a reader)."""
    return "" if not stamp else str(stamp).replace("T", " ")[:16]
