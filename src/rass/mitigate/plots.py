"""Before/after plot of one mitigation, drawn from its ``metrics.json`` only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rass.plotting import pyplot, save

GROUPS = (
    ("heldout_boundary", "over_refusal", "held-out\nboundary:\nover-refused"),
    ("morbench_core", "over_refusal", "core\nbenign:\nover-refused"),
    ("heldout_harmful", "harmful_refusal", "held-out\nharmful:\nrefused"),
)


def _bars(ax: Any, labels: list[str], pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]]) -> None:
    width = 0.38
    for k, (name, color) in enumerate((("before", "#999999"), ("after", "#1e8449"))):
        xs, ys, lo, hi = [], [], [], []
        for i, pair in enumerate(pairs):
            m = pair[k]
            if not m:
                continue
            ci = m.get("ci95") or [m["rate"], m["rate"]]
            xs.append(i + (k - 0.5) * width)
            ys.append(m["rate"])
            lo.append(max(m["rate"] - ci[0], 0.0))
            hi.append(max(ci[1] - m["rate"], 0.0))
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, color=color, label=name)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(0, 1.05)


def before_after(metrics: dict[str, Any], path: Path) -> Path:
    """Left: the three proof rates before and after (95% CIs). Right: core over-refusal per language."""
    plt = pyplot()
    langs = sorted(set(metrics["before"].get("core_by_lang", {})) & set(metrics["after"].get("core_by_lang", {})))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [4, max(len(langs), 3)]})
    _bars(left, [g[2] for g in GROUPS], [(metrics["before"][g][k], metrics["after"][g][k]) for g, k, _ in GROUPS])
    left.set_ylabel("rate (95% CI)")
    left.legend(fontsize=8)
    _bars(right, langs, [(metrics["before"]["core_by_lang"][x]["over_refusal"],
                          metrics["after"]["core_by_lang"][x]["over_refusal"]) for x in langs])  # fmt: skip
    right.set_title("MORBench-core benign over-refusal per language", fontsize=9)
    name = metrics["method"] + ("-ablation" if metrics.get("ablation") else "")
    fig.suptitle(f"Mitigation {name}: before vs after (same items, same judge)")
    return save(fig, path)
