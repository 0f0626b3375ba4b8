"""``rass probe``: directions → layer choice → boundary fit → steering distance → analysis → plots.

Each stage writes its own folder in the run (``directions/``, ``boundary/``) and is skipped on a
re-run when the manifest says it finished with the same config (unless forced).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rass.directions.extract import Activations, collect, extract_directions
from rass.directions.layers import LayerRule, causal_metrics, choose_layer, separation_metrics
from rass.directions.vector import SteeringVector
from rass.errors import DataError, DimensionMismatchError, RassError
from rass.runs import RunDir, read_json, write_json

if TYPE_CHECKING:
    import torch

    from rass.data.schema import PromptRecord
    from rass.models.chat import ChatModel


@dataclass
class ProbeConfig:
    langs: list[str] = field(default_factory=lambda: ["en"])
    direction_lang: str = "en"
    max_per_group: int = 24  # prompts per (language, set, split); 0 = all
    position: str = "last"
    layer: int | None = None  # force a layer instead of choosing one
    rule: LayerRule = field(default_factory=LayerRule)
    n_causal: int = 16  # validation prompts per class for the causal checks
    threshold: float | str | None = None  # logit-judge threshold: None = calibrated or 0; "median" (plumbing)
    flip: bool = True
    flip_max: int = 96  # prompts in the steering-distance search
    flip_grid: tuple[float, ...] = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    flip_iters: int = 5
    compare_uncached: int = 8  # prompts searched both with and without the layer cache (timing)
    confirm_generate: bool = True  # confirm refusals of analysed prompts by generation + string judge
    confirm_max_new_tokens: int = 40
    batch_size: int = 16
    min_per_class: int = 4


def select_records(cfg: ProbeConfig, extra: Sequence[PromptRecord] = ()) -> list[PromptRecord]:
    """Shipped seeds for ``cfg.langs``, capped per (language, set, split), plus user prompts."""
    from rass.data.seeds import SETS, load_seeds

    chosen: list[PromptRecord] = []
    for lang in cfg.langs:
        for s in SETS:
            by_split: dict[str | None, list[PromptRecord]] = {}
            for r in load_seeds(langs=[lang], sets=[s]):
                by_split.setdefault(r.split, []).append(r)
            for recs in by_split.values():
                chosen += recs[: cfg.max_per_group] if cfg.max_per_group else recs
    seen = {r.id for r in chosen}
    for r in extra:
        if r.id in seen:
            raise DataError(f"prompt id {r.id!r} is used twice (user prompts must not reuse seed ids)")
        seen.add(r.id)
        chosen.append(r)
    return chosen


def _group(r: PromptRecord) -> str:
    if r.label == "harmful":
        return "harmful"
    if r.kind == "lookalike":
        return "lookalike"
    return "imperative" if r.meta.get("style") == "imperative" else "harmless"


def _ids(records: Sequence[PromptRecord], *, split: str | None, lang: str | None, groups: Sequence[str]) -> list[str]:
    return [
        r.id
        for r in records
        if (split is None or r.split == split) and (lang is None or r.lang == lang) and _group(r) in groups
    ]


def _config_key(cfg: ProbeConfig, chat: ChatModel, records: Sequence[PromptRecord]) -> dict[str, Any]:
    digest = hashlib.sha256("\n".join(f"{r.id}\t{r.text}" for r in records).encode()).hexdigest()[:16]
    return {"probe": asdict(cfg), "model": chat.fingerprint, "prompts": digest, "n_prompts": len(records)}


def _threshold(cfg: ProbeConfig, chat: ChatModel, scores: torch.Tensor) -> float:
    """The refusal-score threshold: given, ``median`` of the probed scores, or the logit judge's."""
    if cfg.threshold == "median":
        return float(scores.median())
    if isinstance(cfg.threshold, str):
        raise RassError(f"threshold must be a number or 'median', not {cfg.threshold!r}")
    if cfg.threshold is not None:
        return float(cfg.threshold)
    from rass.judge.logit import LogitJudge

    return LogitJudge(chat).threshold


def run_probe(
    chat: ChatModel,
    run: RunDir,
    cfg: ProbeConfig,
    extra: Sequence[PromptRecord] = (),
    *,
    direction: SteeringVector | None = None,
    force: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Run (or resume) every probe stage; returns the analysis summary."""
    if cfg.layer is not None and not 0 <= cfg.layer < chat.n_layers:
        raise RassError(f"layer {cfg.layer} is out of range: {chat.name} has layers 0..{chat.n_layers - 1}")
    if direction is not None:
        direction.check(chat.hidden_size, chat.n_layers)
        fp = direction.meta.get("fingerprint")
        if fp and fp != chat.fingerprint:
            raise DimensionMismatchError(
                f"the direction was extracted from another model ({direction.meta.get('model')})"
            )
    records = select_records(cfg, extra)
    key = _config_key(cfg, chat, records)
    model_info = {
        "name": chat.name,
        "fingerprint": chat.fingerprint,
        "layers": chat.n_layers,
        "hidden": chat.hidden_size,
    }
    if force or not run.is_done("directions", key):
        with run.stage("directions", key, model_info) as folder:
            _directions_stage(chat, folder, cfg, records, direction)
    if force or not run.is_done("boundary", key):
        with run.stage("boundary", key, model_info) as folder:
            _boundary_stage(chat, run, folder, cfg, records)
    if plots and (force or not run.is_done("plots", key)):
        from rass.boundary.plots import make_plots

        with run.stage("plots", key) as folder:
            make_plots(run, folder)
    summary: dict[str, Any] = read_json(run.path("boundary", "analysis.json"))
    return summary


def _directions_stage(
    chat: ChatModel,
    folder: Any,
    cfg: ProbeConfig,
    records: Sequence[PromptRecord],
    given: SteeringVector | None,
) -> None:
    from rass.data.io import write_jsonl

    acts = collect(chat, records, range(chat.n_layers), cfg.position)
    threshold = _threshold(cfg, chat, acts.refusal_scores)
    acts.save(folder / "activations.safetensors")
    write_jsonl(folder / "prompts.jsonl", records)
    dl = cfg.direction_lang
    train_h = _ids(records, split="train", lang=dl, groups=["harmful"])
    train_b = _ids(records, split="train", lang=dl, groups=["harmless", "imperative"])
    direction = given or extract_directions(acts, train_h, train_b, min_per_class=cfg.min_per_class)
    by_id = dict(zip(acts.ids, acts.refusal_scores.tolist(), strict=True))
    refused = {i: s > threshold for i, s in by_id.items()}
    val = {
        g: _ids(records, split="validation", lang=dl, groups=[g])
        for g in ("harmful", "harmless", "imperative", "lookalike")
    }
    val["harmless"] = [*val["harmless"], *val["imperative"]]
    for g in ("harmful", "harmless"):
        if len(val[g]) < 2:
            raise DataError(f"too few validation {g} prompts ({len(val[g])}) to choose a layer")
    metrics = separation_metrics(acts, direction, val, refused)
    candidates = [cfg.layer] if cfg.layer is not None else cfg.rule.candidates(chat.n_layers)
    candidates = [k for k in candidates if k in direction.layer_vectors]
    text_of = {r.id: r.text for r in records}
    harm_c = [text_of[i] for i in val["harmful"][: cfg.n_causal]]
    less_c = [text_of[i] for i in val["harmless"][: cfg.n_causal]]
    import torch

    base_h = torch.tensor([by_id[i] for i in val["harmful"][: cfg.n_causal]])
    base_b = torch.tensor([by_id[i] for i in val["harmless"][: cfg.n_causal]])
    base_lp = chat.forward(less_c, logprobs=True).logprobs
    assert base_lp is not None
    for k in candidates:
        metrics[k].update(causal_metrics(chat, direction, k, harm_c, less_c, base_h, base_b, base_lp, threshold))
    chosen, why = choose_layer({k: metrics[k] for k in candidates}, cfg.rule)
    if cfg.layer is not None:
        why["note"] = f"layer {cfg.layer} forced by the user"
    meta = {
        **dict(direction.meta),
        "model": chat.name,
        "fingerprint": chat.fingerprint,
        "hidden_size": chat.hidden_size,
        "chosen_layer": chosen,
        "threshold_logit": threshold,
        "direction_lang": dl,
    }
    SteeringVector(direction.layer_vectors, meta).save(folder / "directions.safetensors")
    write_json(folder / "directions.json", meta)
    write_json(
        folder / "layers.json",
        {"metrics": [metrics[k] for k in sorted(metrics)], "candidates": candidates, "choice": why},
    )


def _boundary_stage(
    chat: ChatModel, run: RunDir, folder: Any, cfg: ProbeConfig, records: Sequence[PromptRecord]
) -> None:
    from rass.boundary.fit import fit_boundary
    from rass.data.io import write_jsonl

    acts = Activations.load(run.path("directions", "activations.safetensors"))
    direction = SteeringVector.load(run.path("directions", "directions.safetensors"))
    layer = int(direction.meta["chosen_layer"])
    threshold = float(direction.meta["threshold_logit"])
    v = direction.layer_vectors[layer]
    unit = v / v.norm()
    proj = (acts.layers[layer] @ unit).numpy()
    scores = acts.refusal_scores.numpy()
    refused_logit = scores > threshold
    rec_by_id = {r.id: r for r in records}
    fit_rows = [i for i, rid in enumerate(acts.ids) if rec_by_id[rid].split == "validation"]
    if len({bool(refused_logit[i]) for i in fit_rows}) < 2:
        fit_rows = list(range(len(acts.ids)))  # too few of one class in validation: fit on everything
    fit = fit_boundary(proj[fit_rows].tolist(), refused_logit[fit_rows].tolist(), min_per_class=2)
    fit_info = {
        **fit.to_dict(),
        "layer": layer,
        "gap_norm": float(v.norm()),
        "logit_threshold": threshold,
        "fitted_on": "validation" if len(fit_rows) < len(acts.ids) else "all",
    }
    write_json(folder / "fit.json", fit_info)

    # analysis set: held-out test prompts and user prompts
    analysed = [i for i, rid in enumerate(acts.ids) if rec_by_id[rid].split in ("test", None)]
    flip_rows = analysed[: cfg.flip_max] if cfg.flip else []
    flips, timing, curves = _steering_distance(chat, records, acts, flip_rows, v, layer, threshold, cfg)

    generated: dict[int, tuple[str, bool]] = {}
    if cfg.confirm_generate and analysed:
        from rass.judge.base import JudgeItem, get_judge

        texts = [_text_at(rec_by_id, acts, i) for i in analysed]
        replies = chat.generate(texts, max_new_tokens=cfg.confirm_max_new_tokens)
        verdicts = get_judge("string").judge(
            [JudgeItem(t, r, rec_by_id[acts.ids[i]].lang) for t, r, i in zip(texts, replies, analysed, strict=True)]
        )
        generated = {i: (r, v_.refused) for i, r, v_ in zip(analysed, replies, verdicts, strict=True)}

    prob = fit.probability(proj)
    rows = []
    for i, rid in enumerate(acts.ids):
        r = rec_by_id[rid]
        row: dict[str, Any] = {
            "id": rid, "lang": r.lang, "label": r.label, "kind": r.kind, "category": r.category,
            "split": r.split, "group": _group(r), "text": r.text, "projection": round(float(proj[i]), 4),
            "distance": round(float(proj[i] - fit.threshold), 4), "p_refuse": round(float(prob[i]), 4),
            "refusal_score": round(float(scores[i]), 4), "refused_logit": bool(refused_logit[i]),
        }  # fmt: skip
        if i in flips:
            row["flip_alpha"] = flips[i]
        if i in generated:
            row["response"], row["refused_generated"] = generated[i][0], generated[i][1]
        rows.append(row)
    write_jsonl(folder / "boundary.jsonl", rows)
    write_json(folder / "alpha_curves.json", curves)
    write_json(folder / "analysis.json", _analysis(rows, fit, timing, acts, records, layer, cfg))


def _text_at(rec_by_id: dict[str, PromptRecord], acts: Activations, i: int) -> str:
    return rec_by_id[acts.ids[i]].text


def _steering_distance(
    chat: ChatModel,
    records: Sequence[PromptRecord],
    acts: Activations,
    rows: list[int],
    v: torch.Tensor,
    layer: int,
    threshold: float,
    cfg: ProbeConfig,
) -> tuple[dict[int, float | None], dict[str, Any], dict[str, Any]]:
    """Flip coefficients for ``rows`` with the layer cache; a small subset also without it, for timing."""
    import torch

    from rass.boundary.flip import flip_search
    from rass.models.partial import LayerCache
    from rass.models.refusal import refusal_log_odds

    rec_by_id = {r.id: r for r in records}
    flips: dict[int, float | None] = {}
    timing: dict[str, Any] = {"prompts": len(rows)}
    ids_ = chat.refusal_ids

    def run_search(chunk: list[int], cached: bool) -> tuple[list[float | None], int, float, bool]:
        start = time.perf_counter()
        cache = LayerCache(chat, [_text_at(rec_by_id, acts, i) for i in chunk], layer)
        use_cache = cached and cache.exact
        base = refusal_log_odds(cache.base_logits, ids_)

        def oracle(rr: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
            delta = torch.zeros(len(chunk), v.shape[0])
            delta[rr] = alphas[:, None] * v[None, :]
            logits = cache.logits(delta) if use_cache else cache.full_logits(delta)
            return refusal_log_odds(logits[rr], ids_)

        res = flip_search(oracle, base, threshold, grid=cfg.flip_grid, iters=cfg.flip_iters)
        return res.alpha, sum(res.evaluations), time.perf_counter() - start, use_cache

    total_evals, total_s, exact = 0, 0.0, True
    for start in range(0, len(rows), cfg.batch_size):
        chunk = rows[start : start + cfg.batch_size]
        alphas, evals, secs, exact_ = run_search(chunk, cached=True)
        exact &= exact_
        total_evals += evals
        total_s += secs
        flips.update({i: (None if a is None else round(a, 4)) for i, a in zip(chunk, alphas, strict=True)})
    timing.update(
        cached_s=round(total_s, 2),
        cache_exact=exact,
        evaluations_per_prompt=round(total_evals / max(1, len(rows)), 2),
    )
    sub = rows[: cfg.compare_uncached]
    if sub:
        a_c, _, s_c, _ = run_search(sub, cached=True)
        a_u, _, s_u, _ = run_search(sub, cached=False)
        same = sum(
            (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-3)
            for x, y in zip(a_c, a_u, strict=True)
        )
        frac = (chat.n_layers - layer) / chat.n_layers
        timing["compare"] = {
            "prompts": len(sub), "cached_s": round(s_c, 3), "uncached_s": round(s_u, 3),
            "speedup": round(s_u / s_c, 2) if s_c else None, "same_alpha": same,
            "layers_run_per_evaluation_cached": chat.n_layers - layer,
            "layers_run_per_evaluation_uncached": chat.n_layers,
            "forward_equivalents_per_evaluation_cached": round(frac, 3),
        }  # fmt: skip
    # refusal probability vs alpha for a few prompts of each group
    curves: dict[str, Any] = {"alphas": [], "prompts": []}
    grid: list[float] = [round(float(a), 3) for a in torch.linspace(-2.0, 2.0, 17).tolist()]
    curves["alphas"] = grid
    picks: list[int] = []
    for g in ("harmful", "harmless", "lookalike"):
        picks += [i for i, rid in enumerate(acts.ids) if _group(rec_by_id[rid]) == g][:3]
    if picks:
        cache = LayerCache(chat, [_text_at(rec_by_id, acts, i) for i in picks], layer)
        for a in grid:
            delta = a * v[None, :].expand(len(picks), -1)
            s = refusal_log_odds(cache.logits(delta) if cache.exact else cache.full_logits(delta), ids_)
            for j, i in enumerate(picks):
                if len(curves["prompts"]) <= j:
                    curves["prompts"].append(
                        {"id": acts.ids[i], "group": _group(rec_by_id[acts.ids[i]]), "p_refuse": []}
                    )
                curves["prompts"][j]["p_refuse"].append(round(float(torch.sigmoid(s[j])), 4))
    return flips, timing, curves


def _analysis(
    rows: list[dict[str, Any]],
    fit: Any,
    timing: dict[str, Any],
    acts: Activations,
    records: Sequence[PromptRecord],
    layer: int,
    cfg: ProbeConfig,
) -> dict[str, Any]:
    import torch

    from rass.boundary.fit import fit_boundary
    from rass.stats import auroc, cohens_d, mann_whitney

    def block(sub: list[dict[str, Any]]) -> dict[str, Any]:
        benign = [r for r in sub if r["label"] == "benign"]
        source = "generated" if benign and all("refused_generated" in r for r in benign) else "logit"
        ref = [bool(r["refused_generated"] if source == "generated" else r["refused_logit"]) for r in benign]
        dist = [r["distance"] for r in benign]
        d_ref = [d for d, y in zip(dist, ref, strict=True) if y]
        d_ans = [d for d, y in zip(dist, ref, strict=True) if not y]
        out: dict[str, Any] = {
            "benign": len(benign),
            "benign_refused": int(sum(ref)),
            "refusal_source": source,
            "auroc_distance": auroc(dist, ref),
            "mann_whitney_distance": mann_whitney(d_ref, d_ans),
            "cohens_d_distance": cohens_d(d_ref, d_ans),
            "median_distance_refused": _median(d_ref),
            "median_distance_answered": _median(d_ans),
        }
        with_flip = [(r, y) for r, y in zip(benign, ref, strict=True) if r.get("flip_alpha") is not None]
        if with_flip:
            out["auroc_steering_distance"] = auroc([-r["flip_alpha"] for r, _ in with_flip], [y for _, y in with_flip])
            out["median_abs_flip_alpha_refused"] = _median([abs(r["flip_alpha"]) for r, y in with_flip if y])
            out["median_abs_flip_alpha_answered"] = _median([abs(r["flip_alpha"]) for r, y in with_flip if not y])
        harmful = [r for r in sub if r["label"] == "harmful"]
        if harmful:
            hs = [bool(r.get("refused_generated", r["refused_logit"])) for r in harmful]
            out["harmful"] = len(harmful)
            out["harmful_refused"] = int(sum(hs))
        return out

    analysed = [r for r in rows if r["split"] in ("test", None)]
    result: dict[str, Any] = {
        "layer": layer, "threshold": fit.threshold, "slope": fit.slope, "fit_accuracy": fit.accuracy,
        "analysed": block(analysed), "by_lang": {}, "steering_distance": timing,
    }  # fmt: skip
    langs = sorted({r["lang"] for r in rows})
    rec_by_id = {r.id: r for r in records}
    dirs = _language_directions(acts, rec_by_id, layer, langs)
    english = dirs.get(cfg.direction_lang)
    for lang in langs:
        sub = [r for r in rows if r["lang"] == lang]
        entry = block([r for r in sub if r["split"] in ("test", None)])
        if english is not None and lang in dirs:
            cosine = torch.nn.functional.cosine_similarity(dirs[lang], english, dim=0)
            entry["direction_cosine_vs_" + cfg.direction_lang] = round(float(cosine), 4)
        try:
            lf = fit_boundary([r["projection"] for r in sub], [r["refused_logit"] for r in sub], min_per_class=2)
            entry["threshold"] = round(lf.threshold, 4)
        except RassError as exc:
            entry["threshold"] = None
            entry["threshold_note"] = str(exc)
        result["by_lang"][lang] = entry
    return json.loads(json.dumps(result, default=float))


def _language_directions(
    acts: Activations, rec_by_id: dict[str, PromptRecord], layer: int, langs: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Each language's own harmful−harmless direction at ``layer``, from its train prompts."""
    from rass.directions.extract import diff_in_means

    dirs = {}
    for lang in langs:
        rows = [(i, rec_by_id[rid]) for i, rid in enumerate(acts.ids)]
        mine = [(i, r) for i, r in rows if r.split == "train" and r.lang == lang]
        hr = [i for i, r in mine if r.label == "harmful"]
        hl = [i for i, r in mine if _group(r) in ("harmless", "imperative")]
        if len(hr) >= 2 and len(hl) >= 2:
            dirs[lang] = diff_in_means(acts.layers[layer][hr], acts.layers[layer][hl])
    return dirs


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    n = len(s)
    return float(s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2)
