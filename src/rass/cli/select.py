"""``rass generate`` and ``rass select``: RASS candidate generation and boundary selection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rass.cli.errors import guarded
from rass.cli.options import DEFAULT_MODEL, DeviceOpt, DtypeOpt, ModelOpt, ThreadsOpt

console = Console()


@guarded
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (the probe's, so steering can be used).")],
    model: ModelOpt = DEFAULT_MODEL,
    seeds: Annotated[Path | None, typer.Option(help="Seed prompts (default: shipped harmful train seeds).")] = None,
    langs: Annotated[str, typer.Option(help="Languages of shipped seeds, comma-separated.")] = "en",
    limit: Annotated[int, typer.Option(help="At most this many seeds per language (0: all).")] = 0,
    methods: Annotated[str, typer.Option(help="llm, steer, rules (comma-separated).")] = "llm,rules",
    per_seed: Annotated[int, typer.Option(min=1, help="Candidates asked for per seed.")] = 5,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.9,
    max_new_tokens: Annotated[int, typer.Option(min=16)] = 220,
    steer_alpha: Annotated[float, typer.Option(help="Push against refusal by this x the direction.")] = 1.0,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Rewrite harmful seeds into benign look-alike candidates (resumable)."""
    from rass.data.io import read_records
    from rass.data.seeds import cap_per_lang, load_seeds
    from rass.generate.runner import GenerateConfig, generate_candidates
    from rass.runs import RunDir

    run = RunDir(out)
    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    records = read_records(seeds) if seeds else load_seeds(langs=langs.split(","), sets=["harmful"], splits=["train"])
    records = cap_per_lang(records, limit)
    direction = layer = None
    if "steer" in chosen:
        from rass.select.runner import probe_artifacts

        direction, fit = probe_artifacts(run)
        layer = int(fit["layer"])
    chat = None
    if any(m != "rules" for m in chosen):
        from rass.models.chat import ChatModel

        chat = ChatModel.load(model, device=device, dtype=dtype, threads=threads or None, batch_size=batch_size)
    cfg = GenerateConfig(
        methods=chosen,
        per_seed=per_seed,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        seed=seed,
        steer_alpha=steer_alpha,
        batch_size=batch_size,
    )
    stats = generate_candidates(chat, records, run.path("generate"), cfg, direction=direction, layer=layer)
    console.print(
        f"{stats.candidates} new candidates from {stats.seeds} seeds ({stats.duplicates} repeats dropped, "
        f"{stats.unparsed} unparseable outputs logged); seeds with candidates per method: "
        f"{stats.seeds_with_candidates}"
    )


@guarded
def select(
    run_dir: Annotated[Path, typer.Option("--run", help="Run folder with a probe and generated candidates.")],
    model: ModelOpt = DEFAULT_MODEL,
    band_field: Annotated[
        str, typer.Option(help="rel_distance (in harmful-harmless gaps), distance, p_refuse, refusal_score.")
    ] = "rel_distance",
    band_lo: Annotated[float | None, typer.Option(help="Lower edge of the band (default: none).")] = None,
    band_hi: Annotated[float | None, typer.Option(help="Upper edge of the band (default: none).")] = None,
    top: Annotated[int, typer.Option(min=0, help="Keep at most N, nearest the boundary first (0: all).")] = 48,
    quota: Annotated[int, typer.Option(help="At most N per language x category (0: no quota).")] = 0,
    dedup_threshold: Annotated[
        float, typer.Option(help="Character 4-gram Jaccard above which two are duplicates.")
    ] = 0.6,
    verify: Annotated[int, typer.Option(help="Selected prompts to check by generation (0: skip the proof).")] = 32,
    rounds: Annotated[int, typer.Option(min=1, help="Iterate: selected prompts seed the next round.")] = 1,
    per_seed: Annotated[int, typer.Option(min=1, help="Candidates per seed in later rounds.")] = 3,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Keep the verified-benign candidates that sit on the model's safety boundary."""
    from rass.data.schema import PromptRecord
    from rass.generate.runner import GenerateConfig, generate_candidates, load_candidates
    from rass.models.chat import ChatModel
    from rass.runs import RunDir
    from rass.select.choose import BandRule
    from rass.select.runner import SelectConfig, probe_artifacts, run_select

    run = RunDir.existing(run_dir)
    probe_artifacts(run)  # fail early, before loading a model
    candidates = load_candidates(run.root / "generate")
    cfg = SelectConfig(band=BandRule(band_field, band_lo, band_hi, top or None), quota_per_category=quota or None,
                       dedup_threshold=dedup_threshold, verify=verify)  # fmt: skip
    chat = ChatModel.load(model, device=device, dtype=dtype, threads=threads or None, batch_size=batch_size)
    for r in range(rounds):
        pool = [c for c in candidates if int(c.meta.get("round", 0)) == r]
        stage = "select" if r == 0 else f"select/round-{r}"
        report = run_select(chat, run, pool, cfg, stage=stage)
        c = report["counts"]
        proof = report.get("proof", {})
        console.print(
            f"round {r}: {c['selected']} selected of {c['candidates']} "
            f"({c['verified_benign']} verified benign); "
            f"hit rate {proof.get('selected_hit_rate')} vs {proof.get('baseline_hit_rate')} random; "
            f"{report.get('empty_because', '')}"
        )
        if r + 1 < rounds:
            import json

            chosen = [json.loads(x) for x in (run.path(stage) / "boundary.jsonl").read_text().splitlines() if x.strip()]
            seeds = [
                PromptRecord.from_dict({k: v for k, v in row.items() if k in PromptRecord.__dataclass_fields__})
                for row in chosen
            ]
            gcfg = GenerateConfig(methods=["llm"], per_seed=per_seed, round=r + 1, batch_size=min(batch_size, 8))
            generate_candidates(chat, seeds, run.path("generate"), gcfg)
            candidates = load_candidates(run.root / "generate")
    console.print(f"selected prompts in {run_dir}/select/boundary.jsonl; report in {run_dir}/select/report.json")
