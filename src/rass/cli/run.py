"""``rass run`` (the whole pipeline) and ``rass report`` (HTML + Markdown from a run folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    console.print(summary_table(out))
    console.print(f"report: {summary['report']}")


def summary_table(out: Path) -> object:
    """Stage, status, seconds and the headline figure of each stage, from the run's saved files."""
    from rich.table import Table

    from rass.mitigate.goals import goal_check, goal_head
    from rass.runs import read_json_if

    def read(*parts: str) -> dict[str, Any]:
        return read_json_if(out.joinpath(*parts)) or {}

    manifest = read("manifest.json")
    fit, sel, ev = read("boundary", "fit.json"), read("select", "report.json"), read("eval", "metrics.json")
    proof = sel.get("proof") or {}
    overall = ev.get("overall") or {}

    def rate(m: object) -> str:
        return f"{m['rate']:.2f}" if isinstance(m, dict) and m.get("rate") is not None else "-"

    headline = {
        "boundary": f"layer {fit.get('layer')}, threshold {fit.get('threshold', 0):.2f}" if fit else "",
        "select": (f"{sel['counts']['selected']} selected; hit rate {proof.get('selected_hit_rate')} vs "
                   f"{proof.get('baseline_hit_rate')} random") if sel else "",
        "eval": (f"over-refusal {rate(overall.get('over_refusal'))}, harmful refused "
                 f"{rate(overall.get('harmful_refusal'))}") if overall else "",
    }  # fmt: skip
    cands = out / "generate" / "candidates.jsonl"
    if cands.is_file():
        headline["generate"] = f"{sum(1 for line in cands.open(encoding='utf-8') if line.strip())} candidates"
    skipped = read("mitigate", "skipped.json")
    done = [p for p in sorted(out.glob("mitigate/*/metrics.json")) if not p.parent.name.startswith("before-")]
    if skipped:
        headline["mitigate"] = "skipped: " + str(skipped.get("reason", ""))[:60]
    elif done:
        m = read_json_if(done[0])

        def change(group: str, key: str) -> str:
            return f"{rate(m['before'][group][key])} → {rate(m['after'][group][key])}"

        headline["mitigate"] = (f"{done[0].parent.name}: held-out boundary over-refusal "
                                f"{change('heldout_boundary', 'over_refusal')}, harmful refused "
                                f"{change('heldout_harmful', 'harmful_refusal')}; "
                                f"{goal_head(goal_check(m['before'], m['after']))}")  # fmt: skip
    table = Table(title="rass run")
    for col in ("stage", "status", "seconds", "result"):
        table.add_column(col)
    for stage, info in manifest.get("stages", {}).items():
        table.add_row(stage, str(info.get("status")), str(info.get("seconds")), headline.get(stage, ""))
    return table


@guarded
def report(run_dir: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Write RUN/report.html (self-contained) and RUN/report.md from saved artifacts only."""
    from rass.report.html import build_report

    html_path, md_path = build_report(run_dir)
    console.print(f"wrote {html_path} and {md_path}")
