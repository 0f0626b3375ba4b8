"""Probe plots, built only from saved artifacts (never by re-running a model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rass.plotting import pyplot as _plt
from rass.plotting import save as _save
from rass.runs import RunDir, read_json

COLORS = {"harmful": "#c0392b", "harmless": "#2471a3", "imperative": "#5dade2", "lookalike": "#d68910"}


def make_plots(run: RunDir, folder: Path) -> list[Path]:
    rows = [json.loads(x) for x in run.path("boundary", "boundary.jsonl").read_text().splitlines() if x.strip()]
    fit = read_json(run.path("boundary", "fit.json"))
    layers = read_json(run.path("directions", "layers.json"))
    curves = read_json(run.path("boundary", "alpha_curves.json"))
    return [
        histogram(rows, fit, folder / "projection_histogram.png"),
        boundary_map(run, rows, fit, folder / "boundary_map.png"),
        layer_curves(layers, folder / "layers.png"),
        alpha_curves(curves, folder / "alpha_curves.png"),
    ]


def histogram(rows: list[dict[str, Any]], fit: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    for g, color in COLORS.items():
        xs = [r["projection"] for r in rows if r["group"] == g]
        if xs:
            ax.hist(xs, bins=30, alpha=0.55, color=color, label=f"{g} (n={len(xs)})")
    ax.axvline(fit["threshold"], color="black", linestyle="--", label=f"fitted boundary {fit['threshold']:.2f}")
    ax.set_xlabel(f"projection on the refusal direction (layer {fit['layer']})")
    ax.set_ylabel("prompts")
    ax.set_title("Where prompts sit relative to the safety boundary")
    ax.legend(fontsize=8)
    return _save(fig, path)


def boundary_map(run: RunDir, rows: list[dict[str, Any]], fit: dict[str, Any], path: Path) -> Path:
    """x: projection on the direction; y: first principal component of what is left."""
    import torch

    from rass.directions.extract import Activations

    acts = Activations.load(run.path("directions", "activations.safetensors"))
    x = acts.layers[fit["layer"]]
    by_id = {r["id"]: r for r in rows}
    proj = torch.tensor([by_id[i]["projection"] for i in acts.ids])
    from rass.directions.vector import SteeringVector

    d = SteeringVector.load(run.path("directions", "directions.safetensors")).layer_vectors[fit["layer"]]
    unit = d / d.norm()
    rest = x - (x @ unit)[:, None] * unit[None, :]
    rest = rest - rest.mean(0)
    _, _, vt = torch.linalg.svd(rest, full_matrices=False)
    pc = (rest @ vt[0]).tolist()
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for g, color in COLORS.items():
        for refused, marker in ((False, "o"), (True, "x")):
            pts = [
                (float(proj[k]), pc[k])
                for k, i in enumerate(acts.ids)
                if by_id[i]["group"] == g
                and bool(by_id[i].get("refused_generated", by_id[i]["refused_logit"])) == refused
            ]
            if pts:
                ax.scatter(*zip(*pts, strict=True), c=color, marker=marker, s=22, alpha=0.7,
                           label=f"{g}, {'refused' if refused else 'answered'}")  # fmt: skip
    ax.axvline(fit["threshold"], color="black", linestyle="--", label="fitted boundary")
    ax.set_xlabel("projection on the refusal direction")
    ax.set_ylabel("1st principal component of the remainder")
    ax.set_title(f"Safety boundary map, layer {fit['layer']} (x = refused)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def layer_curves(layers: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    metrics = layers["metrics"]
    ks = [m["layer"] for m in metrics]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
    for key, label in (
        ("auroc_harmful_vs_harmless", "harmful vs harmless"),
        ("auroc_harmful_vs_imperative", "harmful vs imperative harmless"),
        ("auroc_harmful_vs_lookalike", "harmful vs look-alike"),
        ("auroc_lookalike_refusal", "look-alike refusal (model's own)"),
    ):
        ys = [m.get(key) for m in metrics]
        if any(y is not None for y in ys):
            a1.plot(ks, [float("nan") if y is None else y for y in ys], marker=".", label=label)
    a1.axvline(layers["choice"]["chosen"], color="black", linestyle=":", label="chosen layer")
    a1.set_xlabel("layer")
    a1.set_ylabel("AUROC of the projection")
    a1.set_title("Separation per layer (validation)")
    a1.legend(fontsize=7)
    causal = [m for m in metrics if "steer_gain" in m]
    if causal:
        cks = [m["layer"] for m in causal]
        a2.plot(cks, [m["steer_gain"] for m in causal], marker="o", label="+direction on harmless: Δ log-odds")
        a2.plot(cks, [m["ablation_drop"] for m in causal], marker="s", label="ablation on harmful: −Δ log-odds")
        a2.plot(cks, [m["kl_harmless_ablated"] for m in causal], marker="^", label="KL on harmless (ablation)")
        a2.axvline(layers["choice"]["chosen"], color="black", linestyle=":")
        a2.legend(fontsize=7)
    a2.set_xlabel("layer")
    a2.set_title("Causal checks per candidate layer")
    return _save(fig, path)


def alpha_curves(curves: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    for p in curves.get("prompts", []):
        ax.plot(curves["alphas"], p["p_refuse"], color=COLORS.get(p["group"], "gray"), alpha=0.8, label=p["group"])
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8)
    ax.axhline(0.5, color="gray", linestyle=":")
    ax.set_xlabel("steering coefficient alpha (units of the harmful−harmless mean gap)")
    ax.set_ylabel("P(reply starts with a refusal)")
    ax.set_title("Refusal probability as the prompt is pushed along the direction")
    return _save(fig, path)
