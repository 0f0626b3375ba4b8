"""The select stage: score → verify benign → band → de-duplicate → quotas, with a proof of value.

Writes ``select/boundary.jsonl`` (selected candidates, all scores kept), ``select/rejected.jsonl``
(every other candidate with the reason), ``select/scored.jsonl`` (all candidates' scores) and
``select/report.json`` (counts, hit rate against a random baseline, cost against
generate-and-judge).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rass.data.io import write_jsonl
from rass.errors import RassError
from rass.runs import RunDir, read_json, write_json
from rass.select.choose import BandRule, apply_quota, dedup
from rass.select.gate import verify_benign

if TYPE_CHECKING:
    from rass.data.schema import PromptRecord
    from rass.models.chat import ChatModel


@dataclass
class SelectConfig:
    band: BandRule = field(default_factory=BandRule)
    dedup_threshold: float = 0.6
    quota_per_category: int | None = None
    verify: int = 32  # selected prompts checked by generation (and as many random baseline ones)
    verify_max_new_tokens: int = 40
    long_tokens: int = 256  # the "full answer" a naive pipeline would generate per candidate
    long_sample: int = 4  # candidates whose full answers are timed for the cost comparison
    seed: int = 0


def probe_artifacts(run: RunDir) -> tuple[Any, dict[str, Any]]:
    """The probe's direction and fitted boundary; a clear error when the probe has not run."""
    from rass.directions.vector import SteeringVector

    dpath = run.root / "directions" / "directions.safetensors"
    fpath = run.root / "boundary" / "fit.json"
    if not dpath.is_file() or not fpath.is_file():
        raise RassError(f"{run.root} has no probe yet; run first: rass probe --model SPEC --out {run.root}")
    return SteeringVector.load(dpath), read_json(fpath)


def score_candidates(
    chat: ChatModel, candidates: Sequence[PromptRecord], direction: Any, fit: dict[str, Any]
) -> list[dict[str, Any]]:
    """One forward pass per candidate: projection, signed distance, P(refuse), refusal score."""
    import math

    layer = int(fit["layer"])
    direction.check(chat.hidden_size, chat.n_layers)
    if direction.meta.get("fingerprint") not in (None, chat.fingerprint):
        raise RassError("the run's probe was made with another model; probe this model first")
    v = direction.layer_vectors[layer]
    unit = v / v.norm()
    out = chat.forward([c.text for c in candidates], sites=[f"resid_pre.{layer}"], refusal=True)
    proj = (out.activations[f"resid_pre.{layer}"] @ unit).tolist()
    assert out.refusal_scores is not None
    rows = []
    for c, x, s in zip(candidates, proj, out.refusal_scores.tolist(), strict=True):
        z = max(-50.0, min(50.0, fit["slope"] * (x - fit["threshold"])))
        rows.append({
            **c.to_dict(), "projection": round(x, 4), "distance": round(x - fit["threshold"], 4),
            "p_refuse": round(1 / (1 + math.exp(-z)), 4), "refusal_score": round(s, 4),
            "refused_logit": s > fit["logit_threshold"],
        })  # fmt: skip
    return rows


def drop_seed_copies(
    rows: list[dict[str, Any]], threshold: float = 0.45
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """Reject candidates that are near-copies of their harmful seed (a generator that just restated it)."""
    from rass.data.seeds import load_seeds
    from rass.select.choose import char_grams, jaccard

    seeds = {r.id: r.text for r in load_seeds(sets=["harmful"])}
    kept, dropped = [], []
    for r in rows:
        parent = seeds.get(r.get("parent_id") or "")
        if parent and jaccard(char_grams(r["text"], 3), char_grams(parent, 3)) >= threshold:
            dropped.append((r, f"screen: near-copy of its harmful seed {r['parent_id']}"))
        else:
            kept.append(r)
    return kept, dropped


def run_select(
    chat: ChatModel,
    run: RunDir,
    candidates: Sequence[PromptRecord],
    cfg: SelectConfig,
    *,
    stage: str = "select",
) -> dict[str, Any]:
    if not candidates:
        raise RassError(f"{run.root} has no candidates; run first: rass generate --out {run.root}")
    direction, fit = probe_artifacts(run)
    folder = run.path(stage)
    t0 = time.perf_counter()
    rows = score_candidates(chat, candidates, direction, fit)
    score_s = time.perf_counter() - t0
    write_jsonl(folder / "scored.jsonl", rows)

    rejected: list[tuple[dict[str, Any], str]] = []
    t1 = time.perf_counter()
    rows, copies = drop_seed_copies(rows)
    rejected += copies
    gate = verify_benign(chat, [r["text"] for r in rows])
    gate_s = time.perf_counter() - t1
    benign = []
    for r, g in zip(rows, gate, strict=True):
        r["gate"] = {"accepted": g.accepted, "reason": g.reason, "classifier": g.classifier}
        (benign.append(r) if g.accepted else rejected.append((r, g.reason)))
    in_band = [r for r in benign if cfg.band.contains(r)]
    rejected += [
        (r, f"outside band {cfg.band.field} in [{cfg.band.lo}, {cfg.band.hi}]")
        for r in benign
        if not cfg.band.contains(r)
    ]
    in_band.sort(key=lambda r: -float(r["p_refuse"]))  # nearest the refusing side first
    kept, dropped = dedup(in_band, cfg.dedup_threshold)
    rejected += dropped
    kept, dropped = apply_quota(kept, cfg.quota_per_category)
    rejected += dropped
    for r in kept:
        r["kind"] = "boundary"
    write_jsonl(folder / "boundary.jsonl", kept)
    write_jsonl(folder / "rejected.jsonl", [{**r, "reason": why} for r, why in rejected])

    report: dict[str, Any] = {
        "config": {**asdict(cfg), "band": asdict(cfg.band)},
        "counts": {
            "candidates": len(rows),
            "verified_benign": len(benign),
            "in_band": len(in_band),
            "selected": len(kept),
            "rejected": len(rejected),
            "rejected_by_reason": Counter(why.split(":")[0] for _, why in rejected),
            "gate_classifier": Counter(str(g.classifier) for g in gate),
        },
        "by_lang": {
            lang: {
                "candidates": sum(r["lang"] == lang for r in rows),
                "selected": sum(r["lang"] == lang for r in kept),
            }
            for lang in sorted({r["lang"] for r in rows})
        },
        "seconds": {"score": round(score_s, 2), "gate": round(gate_s, 2)},
        "diversity": diversity(kept),
    }
    if not kept:
        report["empty_because"] = _why_empty(len(rows), len(benign), len(in_band))
    if cfg.verify and kept:
        report["proof"] = _prove(chat, kept, [r for r in benign if r not in kept], cfg, score_s / len(rows))
    write_json(folder / "report.json", report)
    return report


def diversity(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean pairwise character-4-gram Jaccard (lower: more varied) and distinct seeds and categories."""
    from rass.select.choose import char_grams, jaccard

    grams = [char_grams(r["text"]) for r in rows]
    pairs = [(i, j) for i in range(len(grams)) for j in range(i + 1, len(grams))]
    mean = sum(jaccard(grams[i], grams[j]) for i, j in pairs) / len(pairs) if pairs else None
    return {
        "mean_pairwise_jaccard": None if mean is None else round(mean, 4),
        "distinct_seeds": len({r.get("parent_id") for r in rows}),
        "distinct_categories": len({r["category"] for r in rows}),
    }


def _why_empty(n: int, benign: int, band: int) -> str:
    if benign == 0:
        return f"all {n} candidates were rejected by the benign gate"
    if band == 0:
        return f"none of the {benign} verified-benign candidates fell inside the band; widen it"
    return "every in-band candidate was removed as a near-duplicate or by quota"


def _prove(
    chat: ChatModel,
    selected: list[dict[str, Any]],
    others: list[dict[str, Any]],
    cfg: SelectConfig,
    score_s_per: float,
) -> dict[str, Any]:
    """Hit rate of selection vs a random same-size verified-benign sample, and the cost comparison."""
    from rass.judge.base import JudgeItem, get_judge

    rng = random.Random(cfg.seed)
    sel = selected[: cfg.verify]
    base = rng.sample(others, min(len(sel), len(others)))
    judge = get_judge("string")

    def hits(rows: list[dict[str, Any]]) -> tuple[list[bool], float]:
        if not rows:
            return [], 0.0
        t = time.perf_counter()
        replies = chat.generate([r["text"] for r in rows], max_new_tokens=cfg.verify_max_new_tokens)
        secs = time.perf_counter() - t
        verdicts = judge.judge([JudgeItem(r["text"], a, r["lang"]) for r, a in zip(rows, replies, strict=True)])
        for r, a, v in zip(rows, replies, verdicts, strict=True):
            r["response"], r["refused_generated"] = a, v.refused
        return [v.refused for v in verdicts], secs / len(rows)

    sel_hits, gen_s_per = hits(sel)
    base_hits, _ = hits(base)
    checked = sel + base
    agree = sum(r["refused_logit"] == r["refused_generated"] for r in checked) / len(checked)
    long_rows = sel[: cfg.long_sample]
    t = time.perf_counter()
    chat.generate([r["text"] for r in long_rows], max_new_tokens=cfg.long_tokens, min_new_tokens=cfg.long_tokens)
    long_s_per = (time.perf_counter() - t) / max(1, len(long_rows))
    sel_rate = sum(sel_hits) / len(sel_hits) if sel_hits else 0.0
    base_rate = sum(base_hits) / len(base_hits) if base_hits else 0.0
    short, full = f"generate_{cfg.verify_max_new_tokens}_and_judge", f"generate_{cfg.long_tokens}"
    keys = ("id", "lang", "text", "response", "refused_generated", "refused_logit", "p_refuse")
    return {
        "selected_checked": len(sel),
        "selected_refused": int(sum(sel_hits)),
        "selected_hit_rate": round(sel_rate, 4),
        "baseline_checked": len(base),
        "baseline_refused": int(sum(base_hits)),
        "baseline_hit_rate": round(base_rate, 4),
        "hit_rate_ratio": round(sel_rate / base_rate, 2) if base_rate else None,
        "cheap_vs_generated_agreement": round(agree, 4),
        "seconds_per_candidate": {
            "score_one_forward": round(score_s_per, 4),
            short: round(gen_s_per, 4),
            full: round(long_s_per, 4),
        },
        "cost_ratio_vs_short_generation": round(gen_s_per / score_s_per, 2) if score_s_per else None,
        "cost_ratio_vs_full_answer": round(long_s_per / score_s_per, 2) if score_s_per else None,
        "forward_passes_per_candidate": {
            "score": 1,
            "short_generation": 1 + cfg.verify_max_new_tokens,
            "full_answer": 1 + cfg.long_tokens,
        },
        "checked": [{k: r[k] for k in keys} for r in checked],
    }
