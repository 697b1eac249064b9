"""The model card as people read it: a page from `templates/model_card.html` and a text summary."""

from __future__ import annotations

from typing import Any

from core.templating import environment


def card_html(card: dict[str, Any]) -> str:
    return environment().get_template("model_card.html").render(card=card)


def card_lines(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline facts, as (label, value) rows for a terminal table."""
    v = card["validation"]
    return [
        ("version", card["version"]),
        ("trained at", card["trained_at"]),
        ("estimator", card["estimator"]),
        ("candidates (validation ROC-AUC)", ", ".join(f"{k} {s:.3f}" for k, s in card["candidates"].items())),
        ("data window", f"{card['data_window']['start']} to {card['data_window']['end']}"),
        ("labelled snapshots", f"{len(card['snapshots'])} ({len(card['censored_snapshots'])} censored)"),
        ("rows", f"{card['rows']:,}"),
        ("voluntary leavers", f"{card['leavers']:,} ({card['leaver_rate']:.1%})"),
        ("features used", str(len(card["features_used"]))),
        ("excluded as protected", ", ".join(card["protected_excluded"]) or "none present"),
        ("folds", f"grouped {card['grouped']}" if card.get("grouped") else "not recorded"),
        ("time budget", _budget_line(card.get("time_budget", {}))),
        ("validation ROC-AUC", f"{v['roc_auc']:.3f} (rules score: {v.get('rules_roc_auc', float('nan')):.3f})"),
        ("validation PR-AUC", f"{v['pr_auc']:.3f}"),
        ("validation Brier", f"{v['brier']:.4f}"),
        ("lift in top decile", f"{v['lift_top_decile']:.2f}x"),
        (f"flagged at {v['threshold']}", f"{v['flag_rate']:.1%}"),
        *(("warning", str(w["message"])) for w in card.get("warnings", [])),
    ]


def _budget_line(budget: dict[str, Any]) -> str:
    if budget.get("reached"):
        return str(budget.get("note") or "reached")
    seconds = budget.get("seconds")
    return f"every candidate tried within {seconds:g} s" if seconds else "no limit; every candidate tried"
