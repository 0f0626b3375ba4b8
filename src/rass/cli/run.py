"""``rass run`` (the whole pipeline) and ``rass report`` (HTML + Markdown from a run folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rass.cli.errors import guarded

console = Console()


@guarded
def run(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model SPEC (default: the profile's).")] = None,
    profile: Annotated[str, typer.Option(help="quick (0.5B, small), default (1.5B) or full (GPU).")] = "default",
    config: Annotated[Path | None, typer.Option(help="TOML file overriding the profile, section per stage.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (resumed if it exists).")] = Path("runs/rass"),
) -> None:
    """probe → generate → select → bench → eval → report, resumable; one folder per stage."""
    from rass.pipeline import resolve_config, run_pipeline

    cfg = resolve_config(profile, config, {"model": model} if model else None)
    if cfg["model"].startswith("tiny:"):  # random weights: real plumbing, tiny sizes, meaningless numbers
        small = {
            "probe": {"langs": ["en", "es"], "max_per_group": 4, "n_causal": 4, "flip_max": 8},
            "generate": {"limit": 3, "max_new_tokens": 24},
            "select": {"verify": 4},
            "bench": {"langs": ["en", "es"]},
            "eval": {"limit": 4, "max_new_tokens": 8},
        }
        cfg = resolve_config("quick", config, {"model": cfg["model"], **small})
    console.print(f"rass run: profile {cfg['profile']}, model {cfg['model']}, out {out}")

    def show(stage: str, status: str) -> None:
        console.print(f"  [{'green' if status == 'done' else 'cyan'}]{stage:9s} {status}[/]")

    summary = run_pipeline(cfg, out, on_stage=show)
    console.print(f"report: {summary['report']}")


@guarded
def report(run_dir: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Write RUN/report.html (self-contained) and RUN/report.md from saved artifacts only."""
    from rass.report.html import build_report

    html_path, md_path = build_report(run_dir)
    console.print(f"wrote {html_path} and {md_path}")
