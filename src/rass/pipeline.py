"""``rass run``: probe → generate → select → bench → eval → report in one run folder.

Profiles size the work (``quick``: the 0.5B model and small sets; ``default``: the 1.5B; ``full``:
everything, for GPUs); a TOML config file and CLI overrides refine them and the resolved config
is saved in the manifest. Every stage resumes: finished stages are skipped, and the stages that
work item by item (generation, evaluation) continue where they stopped.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rass.errors import DataError, RassError
from rass.runs import RunDir, write_json

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "model": "qwen2.5-coder-0.5b-instruct",
        "probe": {"langs": ["en", "es", "de", "zh"], "max_per_group": 6, "n_causal": 6, "flip_max": 8, "layer_stride": 3, "compare_uncached": 2, "confirm_max_new_tokens": 24},
        "generate": {"methods": ["rules", "llm"], "limit": 2, "rules_limit": 6, "per_seed": 3, "max_new_tokens": 160},
        "select": {"band_lo": None, "top": 12, "verify": 6, "long_sample": 4},
        "bench": {"langs": ["en", "es", "de", "zh"], "translator": "parallel"},
        "eval": {"limit": 4, "max_new_tokens": 40},
        "mitigate": {"method": "steer", "eval_limit": 2},
    },
    "default": {
        "model": "qwen2.5-coder-1.5b-instruct",
        "probe": {"langs": ["en", "es", "de", "zh"], "max_per_group": 6, "n_causal": 6, "flip_max": 12, "layer_stride": 3, "compare_uncached": 4, "confirm_max_new_tokens": 24},
        "generate": {"methods": ["rules", "llm"], "limit": 3, "rules_limit": 8, "per_seed": 4, "max_new_tokens": 160},
        "select": {"band_lo": None, "top": 16, "verify": 12, "long_sample": 4},
        "bench": {"langs": ["en", "zh", "es", "fr", "de", "ja", "ru", "ar"], "translator": "parallel"},
        "eval": {"limit": 4, "max_new_tokens": 48},
        "mitigate": {"method": "steer", "eval_limit": 2},
    },
    "full": {
        "model": "qwen2.5-coder-1.5b-instruct",
        "probe": {"langs": ["en", "zh", "es", "fr", "de", "ja", "ru", "ar"], "max_per_group": 0, "n_causal": 32, "flip_max": 400, "layer_stride": 1},
        "generate": {"methods": ["rules", "llm", "steer"], "limit": 0, "rules_limit": 0, "per_seed": 5, "max_new_tokens": 256},
        "select": {"band_lo": -0.5, "top": 200, "verify": 100},
        "bench": {"langs": ["en", "zh", "es", "fr", "de", "ja", "ru", "ar"], "translator": "llm"},
        "eval": {"limit": 0, "max_new_tokens": 256},
        "mitigate": {"method": "sft", "eval_limit": 30},
    },
}  # fmt: skip
STAGES = ("probe", "generate", "select", "bench", "eval", "mitigate", "report")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve_config(
    profile: str, config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    if profile not in PROFILES:
        raise RassError(f"unknown profile {profile!r}; use {', '.join(PROFILES)}")
    cfg = copy.deepcopy(PROFILES[profile])
    if config_file is not None:
        try:
            cfg = _merge(cfg, tomllib.loads(config_file.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DataError(f"{config_file}: not a readable TOML config ({exc})") from None
    unknown = set(cfg) - {"model", *STAGES}
    if unknown:
        raise DataError(f"unknown config section(s) {sorted(unknown)}; known: model, {', '.join(STAGES)}")
    cfg = _merge(cfg, overrides or {})
    cfg["profile"] = profile
    return cfg


def run_pipeline(
    cfg: dict[str, Any], out: Path, *, on_stage: Callable[[str, str], None] | None = None
) -> dict[str, Any]:
    """Run every stage for ``cfg`` in ``out``; returns a summary of each stage."""
    from rass.launch import launched

    if launched():  # every process would run every stage and write the same run folder
        raise RassError(
            "rass run is one process; under accelerate launch run only the training: rass mitigate --method sft"
        )
    from rass.bench.build import base_from_run, build, core_records, write_bench
    from rass.boundary.probe import ProbeConfig, run_probe
    from rass.data.seeds import cap_per_lang, load_seeds
    from rass.directions.layers import LayerRule
    from rass.evaluate.backends import TransformersBackend
    from rass.evaluate.harness import run_eval
    from rass.generate.runner import GenerateConfig, generate_candidates, load_candidates
    from rass.models.chat import ChatModel
    from rass.report.html import build_report
    from rass.select.choose import BandRule
    from rass.select.runner import SelectConfig, run_select

    note = on_stage or (lambda stage, status: None)
    run = RunDir(out)
    run.manifest["config"] = cfg
    run.save()
    summary: dict[str, Any] = {}
    chat = ChatModel.load(cfg["model"], batch_size=16)
    tiny = cfg["model"].startswith("tiny:")

    note("probe", "running")
    p = cfg["probe"]
    probe_cfg = ProbeConfig(langs=p["langs"], max_per_group=p["max_per_group"], n_causal=p["n_causal"], flip_max=p["flip_max"],
                            rule=LayerRule(stride=p.get("layer_stride", 1)), threshold="median" if tiny else p.get("threshold"),
                            compare_uncached=p.get("compare_uncached", 8),
                            confirm_max_new_tokens=p.get("confirm_max_new_tokens", 40))  # fmt: skip
    summary["probe"] = run_probe(chat, run, probe_cfg)["analysed"]
    note("probe", "done")

    note("generate", "running")
    g = cfg["generate"]
    with run.stage("generate", g):  # always entered: generation resumes item by item on its own
        pool = load_seeds(langs=p["langs"], sets=["harmful"], splits=["train"])
        direction = layer = None
        if "steer" in g["methods"]:
            from rass.select.runner import probe_artifacts

            direction, fit = probe_artifacts(run)
            layer = int(fit["layer"])
        made = unparsed = 0
        # rules cost no model time, so they take more seeds than the generator methods
        for methods, limit in (([m for m in g["methods"] if m != "rules"], g["limit"]),
                               ([m for m in g["methods"] if m == "rules"], g.get("rules_limit", g["limit"]))):  # fmt: skip
            if methods:
                gen_cfg = GenerateConfig(methods=methods, per_seed=g["per_seed"], max_new_tokens=g["max_new_tokens"])
                stats = generate_candidates(chat, cap_per_lang(pool, limit), run.path("generate"), gen_cfg,
                                            direction=direction, layer=layer)  # fmt: skip
                made, unparsed = made + stats.candidates, unparsed + stats.unparsed
    summary["generate"] = {"new_candidates": made, "unparsed": unparsed}
    note("generate", "done")

    note("select", "running")
    s = cfg["select"]
    if not run.is_done("select", s):
        with run.stage("select", s):
            candidates = load_candidates(run.root / "generate")
            band = BandRule(s.get("band_field", "rel_distance"), s.get("band_lo"), s.get("band_hi"), s.get("top"))
            sel_cfg = SelectConfig(band=band, verify=s["verify"], long_sample=s.get("long_sample", 8))
            report = run_select(chat, run, candidates, sel_cfg) if candidates else {"counts": {"selected": 0}, "empty_because": "no candidates were generated"}  # fmt: skip
            write_json(run.path("select", "report.json"), report)
    summary["select"] = run.manifest["stages"]["select"].get("status")
    note("select", "done")

    note("bench", "running")
    b = cfg["bench"]
    if not run.is_done("bench", b):
        with run.stage("bench", b) as folder:
            try:
                base, model_name = base_from_run(run.root)
                records, stats_b = build(base, b["langs"], None)
                how = "RASS boundary prompts of this run + contrasts + controls; native parallels only"
            except RassError as exc:  # empty selection: evaluate on MORBench-core instead, and say so
                records, stats_b, model_name = core_records(b["langs"]), {}, None
                how = f"MORBench-core (the selection was empty: {exc})"
            write_bench(records, folder / "morbench", name="MORBench", how=how, model=model_name, stats=stats_b)
    note("bench", "done")

    note("eval", "running")
    e = cfg["eval"]
    from rass.bench.build import load_bench

    # a stratified sample: the first N of every language x kind, so each language keeps all kinds
    records = cap_per_lang(load_bench(run.path("bench") / "morbench"), e["limit"], key=lambda r: (r.lang, r.kind))
    with run.stage("eval", e):
        metrics = run_eval(
            TransformersBackend(chat),
            records,
            run.path("eval"),
            logit_chat=chat,
            max_new_tokens=e["max_new_tokens"],
        )
    summary["eval"] = metrics["overall"]
    note("eval", "done")

    note("mitigate", "running")
    mcfg = cfg.get("mitigate", {})
    if not run.is_done("mitigate", mcfg):
        from rass.mitigate.config import MitigateConfig
        from rass.mitigate.runner import run_mitigation

        with run.stage("mitigate", mcfg) as folder:
            try:
                summary["mitigate"] = run_mitigation(chat, run, MitigateConfig(**mcfg))["after"]
            except RassError as exc:  # e.g. an empty selection: nothing to train on; say why and go on
                write_json(folder / "skipped.json", {"reason": str(exc)})
                summary["mitigate"] = {"skipped": str(exc)}
    note("mitigate", "done")

    note("report", "running")
    html_path, _ = build_report(run.root)
    summary["report"] = str(html_path)
    note("report", "done")
    return summary
