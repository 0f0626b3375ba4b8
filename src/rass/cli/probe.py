"""``rass probe``: map a model's safety decision boundary (directions, layer, threshold, distances)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rass.cli.errors import guarded
from rass.cli.options import DEFAULT_MODEL, DeviceOpt, DtypeOpt, ModelOpt, ThreadsOpt

console = Console()


@guarded
def probe(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (created; resumed if it exists).")],
    model: ModelOpt = DEFAULT_MODEL,
    langs: Annotated[str, typer.Option(help="Seed languages to probe, comma-separated.")] = "en",
    prompts: Annotated[
        list[Path] | None, typer.Option("--prompts", help="Extra prompt files to place on the map.")
    ] = None,
    max_per_group: Annotated[int, typer.Option(help="Seed prompts per language × set × split (0: all).")] = 24,
    layer: Annotated[int | None, typer.Option(help="Use this layer instead of choosing one.")] = None,
    layer_stride: Annotated[int, typer.Option(min=1, help="Causal-check every k-th candidate layer.")] = 1,
    position: Annotated[str, typer.Option(help="last, eoi or user_mean.")] = "last",
    direction: Annotated[Path | None, typer.Option(help="Reuse a saved direction file (same model).")] = None,
    threshold: Annotated[str | None, typer.Option(help="Refusal-score threshold: a number or 'median'.")] = None,
    n_causal: Annotated[int, typer.Option(help="Validation prompts per class for causal checks.")] = 16,
    flip_max: Annotated[int, typer.Option(help="Prompts in the steering-distance search (0: skip).")] = 96,
    generate: Annotated[bool, typer.Option(help="Confirm analysed refusals by generation + string judge.")] = True,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    force: Annotated[bool, typer.Option(help="Redo finished stages.")] = False,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Directions per layer, layer choice, fitted boundary, steering distance, analysis and plots."""
    from rass.boundary.probe import ProbeConfig, run_probe
    from rass.data.io import read_records
    from rass.directions.layers import LayerRule
    from rass.directions.vector import SteeringVector
    from rass.models.chat import ChatModel
    from rass.runs import RunDir

    thr: float | str | None = None
    if threshold is not None:
        try:
            thr = "median" if threshold == "median" else float(threshold)
        except ValueError:
            raise typer.BadParameter("a number or 'median'", param_hint="--threshold") from None
    if model.startswith("tiny:") and thr is None:
        thr = "median"  # random weights never refuse; split at the median so the plumbing runs
    extra = [r for f in prompts or [] for r in read_records(f)]
    given = SteeringVector.load(direction) if direction else None
    cfg = ProbeConfig(
        langs=[x.strip() for x in langs.split(",") if x.strip()],
        max_per_group=max_per_group,
        layer=layer,
        rule=LayerRule(stride=layer_stride),
        position=position,
        threshold=thr,
        n_causal=n_causal,
        flip=flip_max > 0,
        flip_max=flip_max,
        confirm_generate=generate,
        batch_size=batch_size,
    )
    chat = ChatModel.load(model, device=device, dtype=dtype, threads=threads or None, batch_size=batch_size)
    summary = run_probe(chat, RunDir(out), cfg, extra, direction=given, force=force)
    table = Table(title=f"{model}: safety boundary at layer {summary['layer']}")
    for col in ("lang", "benign", "refused", "AUROC distance", "AUROC steering", "threshold"):
        table.add_column(col)

    def fmt(x: object) -> str:
        return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

    for lang, e in summary["by_lang"].items():
        table.add_row(
            lang, fmt(e["benign"]), fmt(e["benign_refused"]), fmt(e["auroc_distance"]),
            fmt(e.get("auroc_steering_distance")), fmt(e.get("threshold")),
        )  # fmt: skip
    console.print(table)
    console.print(f"artifacts in {out}/directions, {out}/boundary and {out}/plots")
