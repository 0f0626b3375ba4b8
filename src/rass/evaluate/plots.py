"""Evaluation plots from ``metrics.json``: per-language rates with CIs; safety vs over-refusal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rass.plotting import pyplot as _plt
from rass.plotting import save


def language_bars(metrics: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    langs = list(metrics["by_lang"])
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(langs)), 4))
    width = 0.38
    for k, (key, label, color) in enumerate(
        (
            ("over_refusal", "over-refusal (benign refused)", "#d68910"),
            ("harmful_refusal", "harmful refused", "#2471a3"),
        )
    ):
        xs, ys, lo, hi = [], [], [], []
        for i, lang in enumerate(langs):
            m = metrics["by_lang"][lang][key]
            if m is None:
                continue
            xs.append(i + (k - 0.5) * width)
            ys.append(m["rate"])
            ci = m["ci95"] or [m["rate"], m["rate"]]
            lo.append(m["rate"] - ci[0])
            hi.append(ci[1] - m["rate"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, color=color, label=label)
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate (95% bootstrap CI)")
    ax.set_title("Safety and over-refusal per language")
    ax.legend(fontsize=8)
    return save(fig, path)


def safety_scatter(points: Sequence[tuple[str, dict[str, Any]]], path: Path) -> Path:
    """One point per (run or language): x = over-refusal, y = harmful refusal."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, m in points:
        if m["over_refusal"] and m["harmful_refusal"]:
            ax.scatter(m["over_refusal"]["rate"], m["harmful_refusal"]["rate"])
            ax.annotate(name, (m["over_refusal"]["rate"], m["harmful_refusal"]["rate"]), fontsize=8)
    ax.set_xlabel("over-refusal rate (lower is better)")
    ax.set_ylabel("harmful refusal rate (higher is better)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return save(fig, path)
