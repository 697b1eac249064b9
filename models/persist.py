"""Save and load the model safely: skops files, one allow-list, and a card beside them.

Loading never unpickles: skops lists the types a file would create, and we
refuse any outside our allow-list. A model trained on other feature columns
than the code now computes is refused too, so a schema change forces a retrain
instead of silently misreading columns.
"""

from __future__ import annotations

import importlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import ModelError, UntrustedModelError
from core.files import atomic_write
from models.candidates import SKOPS_TRUSTED

MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
CARD_HTML = "card.html"


@dataclass(frozen=True)
class LoadedModel:
    estimator: Any
    card: dict[str, Any]

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.card["features"])

    @property
    def trained_at(self) -> datetime:
        return datetime.fromisoformat(self.card["trained_at"])


def save(estimator: Any, card: dict[str, Any], folder: Path, *, card_html: str | None = None) -> Path:
    """Write model, card (and its HTML page); the model file is replaced last-but-atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    import skops.io as sio  # 2 s to import: only when a model is saved or loaded

    atomic_write(folder / MODEL_FILE, sio.dumps(estimator))
    atomic_write(folder / CARD_FILE, (json.dumps(card, indent=2, sort_keys=True, default=str) + "\n").encode())
    if card_html is not None:
        atomic_write(folder / CARD_HTML, card_html.encode("utf-8"))
    return folder / MODEL_FILE


def warm_up(folder: Path) -> threading.Thread | None:
    """Import skops (about 2 s of Python) on a thread, when `folder` holds a model to load later.

    Started before a long DuckDB query (which releases the GIL), the import overlaps it; the
    later `load` finds the module imported, or waits for the import in progress.
    """
    if not (folder / MODEL_FILE).is_file():
        return None
    thread = threading.Thread(target=importlib.import_module, args=("skops.io",), name="skops-import", daemon=True)
    thread.start()
    return thread


def read_card(folder: Path) -> dict[str, Any]:
    path = folder / CARD_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"no model card at {path}: train a model with `retention model train`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"the model card {path} cannot be read ({exc})") from None


def load(folder: Path, *, expected_features: tuple[str, ...]) -> LoadedModel:
    """The model in `folder`, if every type in it is trusted and its features match ours."""
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"no model at {path}: train one with `retention model train`")
    card = read_card(folder)
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several types for a damaged file
        raise ModelError(f"the model file {path} cannot be read ({type(exc).__name__})") from None
    refused = sorted(set(untrusted) - set(SKOPS_TRUSTED))
    if refused:
        raise UntrustedModelError(
            f"the model file {path} contains types outside the allow-list and was not loaded: {', '.join(refused)}"
        )
    if tuple(card.get("features", ())) != tuple(expected_features):
        raise ModelError(
            f"the model in {folder} was trained on different feature columns than this version computes;"
            " retrain it with `retention model train`"
        )
    try:
        estimator = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(f"the model file {path} cannot be loaded ({type(exc).__name__}: {exc})") from None
    return LoadedModel(estimator=estimator, card=card)
