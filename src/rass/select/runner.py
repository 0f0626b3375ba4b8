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
from rass.select.gate import unquoted, verify_benign
from rass.stats import wilson

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
    long_sample: int = 8  # candidates whose full answers are timed for the cost comparison
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
    gap = float(fit.get("gap_norm") or v.norm())
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
            "rel_distance": round((x - fit["threshold"]) / gap, 4),
        })  # fmt: skip
    return rows


def cached_scores(
    chat: ChatModel, candidates: Sequence[PromptRecord], direction: Any, fit: dict[str, Any], folder: Any
) -> tuple[list[dict[str, Any]], float]:
    """Score, or reuse ``scored.jsonl`` when it holds exactly these candidates under this boundary fit.

    Scoring is the one pass over every candidate; a re-run (after a crash in the gate, or with
    another band) should not pay for it again. The recorded seconds travel with the scores.
    """
    import hashlib

    key = hashlib.sha256(
        "\n".join([chat.fingerprint, str(fit), *sorted(c.id for c in candidates)]).encode()
    ).hexdigest()
    meta_path, rows_path = folder / "scored.json", folder / "scored.jsonl"
    if meta_path.is_file() and rows_path.is_file():
        meta = read_json(meta_path)
        if meta.get("key") == key:
            from rass.data.io import iter_json_lines

            return [row for _, row in iter_json_lines(rows_path)], float(meta["seconds"])
    t0 = time.perf_counter()
    rows = score_candidates(chat, candidates, direction, fit)
    seconds = round(time.perf_counter() - t0, 3)  # the value stored, so a reuse reports the same figure
    write_jsonl(rows_path, rows)
    write_json(meta_path, {"key": key, "seconds": seconds, "n": len(rows)})
    return rows, seconds


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
        text = unquoted(r["text"], (r.get("meta") or {}).get("mention"))  # a rules frame quotes its seed on purpose
        if parent and jaccard(char_grams(text, 3), char_grams(parent, 3)) >= threshold:
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
    """Score all candidates, gate only the ones the band keeps (plus a random baseline sample).

    The benign gate costs two short generations per prompt, so it runs in band order until ``top``
    prompts are verified, and on random unselected candidates until as many are verified (the
    proof's baseline and the ablation's data); every other candidate is never gated (counted).
    """
    if not candidates:
        raise RassError(f"{run.root} has no candidates; run first: rass generate --out {run.root}")
    direction, fit = probe_artifacts(run)
    folder = run.path(stage)
    rows, score_s = cached_scores(chat, candidates, direction, fit, folder)

    rejected: list[tuple[dict[str, Any], str]] = []
    rows, copies = drop_seed_copies(rows)
    rejected += copies
    band = cfg.band
    in_band = sorted((r for r in rows if band.contains(r)), key=lambda r: -float(r[band.field]))
    t1 = time.perf_counter()
    benign = _gate_until(chat, in_band, band.top, rejected)
    in_band_gated = sum("gate" in r for r in in_band)
    kept, dropped = dedup(benign, cfg.dedup_threshold)
    rejected += dropped
    kept, dropped = apply_quota(kept, cfg.quota_per_category)
    rejected += dropped
    if band.top and len(kept) > band.top:
        rejected += [(r, f"band: beyond the top {band.top}") for r in kept[band.top :]]
        kept = kept[: band.top]
    # the proof's baseline and the mitigation ablation's training data: as many random verified-benign
    # candidates as were selected, drawn from everything not selected (in band or not)
    chosen = {r["id"] for r in kept}
    others = [r for r in rows if r["id"] not in chosen]
    random.Random(cfg.seed).shuffle(others)
    pool = _gate_until(chat, others, len(kept) if cfg.verify else 0, rejected)
    baseline = pool[: min(cfg.verify, len(kept))]
    gate_s = time.perf_counter() - t1
    in_baseline, told = {r["id"] for r in baseline}, {r["id"] for r, _ in rejected}
    for r in rows:  # every other candidate gets exactly one reason
        if r["id"] in chosen or r["id"] in told:
            continue
        inside = band.contains(r)
        if "gate" not in r:
            why = "in band, not gated: the top was already full" if inside else f"outside band ({band.describe()})"
        else:  # verified benign (gate-rejected ones were counted by _gate_until)
            why = "verified benign, not selected" + (": random baseline" if r["id"] in in_baseline else "")
            why += " (in band)" if inside else " (outside band)"
        rejected.append((r, why))
    for r in kept:
        r["kind"] = "boundary"
    write_jsonl(folder / "boundary.jsonl", kept)
    write_jsonl(folder / "rejected.jsonl", [{**r, "reason": why} for r, why in rejected])
    gated = [r for r in rows if "gate" in r]
    report: dict[str, Any] = {
        "config": {**asdict(cfg), "band": asdict(band)},
        "counts": {
            "candidates": len(rows) + len(copies),
            "seed_copies": len(copies),
            "in_band": len(in_band),
            "in_band_gated": in_band_gated,
            "gated": len(gated),
            "verified_benign": sum(r["gate"]["accepted"] for r in gated),
            "selected": len(kept),
            "rejected": len(rejected),
            "rejected_by_reason": Counter(why.split(":")[0].split(" (")[0] for _, why in rejected),
            "gate_classifier": Counter(str(r["gate"]["classifier"]) for r in gated),
        },
        "by_lang": {
            lang: {
                "candidates": sum(r["lang"] == lang for r in rows),
                "in_band": sum(r["lang"] == lang for r in in_band),
                "selected": sum(r["lang"] == lang for r in kept),
            }
            for lang in sorted({r["lang"] for r in rows})
        },
        "seconds": {"score": round(score_s, 2), "gate": round(gate_s, 2)},
        "diversity": diversity(kept),
    }
    if not kept:
        report["empty_because"] = _why_empty(len(rows), len(in_band), sum(r["gate"]["accepted"] for r in gated))
    if cfg.verify and kept:
        report["proof"] = _prove(chat, kept, baseline, cfg, score_s / len(rows), n_scored=len(rows))
    write_json(folder / "report.json", report)
    return report


def _gate_until(
    chat: ChatModel, rows: list[dict[str, Any]], want: int | None, rejected: list[tuple[dict[str, Any], str]]
) -> list[dict[str, Any]]:
    """Gate ``rows`` in order, in chunks, until ``want`` are accepted (None: all); returns the accepted.

    Rows gated before are not asked again: the accepted ones count, the rejected ones were counted.
    """
    accepted = [r for r in rows if (r.get("gate") or {}).get("accepted")]
    fresh = [r for r in rows if "gate" not in r]
    chunk = 32
    for i in range(0, len(fresh), chunk):
        if want is not None and len(accepted) >= want:
            break
        part = fresh[i : i + chunk]
        mentions = [r.get("meta", {}).get("mention") for r in part]
        results = verify_benign(chat, [r["text"] for r in part], mentions=mentions)
        for r, g in zip(part, results, strict=True):
            r["gate"] = {"accepted": g.accepted, "reason": g.reason, "classifier": g.classifier}
            (accepted.append(r) if g.accepted else rejected.append((r, g.reason)))
    return accepted


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


def _why_empty(n: int, band: int, benign: int) -> str:
    if band == 0:
        return f"none of the {n} scored candidates fell inside the band; widen it"
    if benign == 0:
        return f"all {band} in-band candidates were rejected by the benign gate"
    return "every verified in-band candidate was removed as a near-duplicate or by quota"


def _prove(
    chat: ChatModel,
    selected: list[dict[str, Any]],
    baseline: list[dict[str, Any]],
    cfg: SelectConfig,
    score_s_per: float,
    *,
    n_scored: int,
) -> dict[str, Any]:
    """Hit rate of selection vs a random same-size verified-benign sample, and the cost comparison.

    Cost per boundary prompt found: selection scores every candidate once and generates only for
    the ones it checks; the naive pipeline generates and judges every candidate, finding boundary
    prompts at the random sample's refusal rate. The benign gate is needed by both and left out.
    """
    from rass.judge.base import JudgeItem, get_judge

    sel = selected[: cfg.verify]
    base = baseline[: len(sel)]
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
    short_passes, full_passes = 1 + cfg.verify_max_new_tokens, 1 + cfg.long_tokens
    found = sum(sel_hits)
    per_found: dict[str, Any] = {
        "selection": round((n_scored * score_s_per + len(sel) * gen_s_per) / found, 2) if found else None,
        short: round(gen_s_per / base_rate, 2) if base_rate else None,
        full: round(long_s_per / base_rate, 2) if base_rate else None,
    }
    passes_found = {
        "selection": round((n_scored + len(sel) * short_passes) / found, 1) if found else None,
        short: round(short_passes / base_rate, 1) if base_rate else None,
        full: round(full_passes / base_rate, 1) if base_rate else None,
    }
    keys = ("id", "lang", "text", "response", "refused_generated", "refused_logit", "p_refuse", "rel_distance")
    langs = sorted({r["lang"] for r in checked})
    return {
        "selected_checked": len(sel),
        "selected_refused": int(found),
        "selected_hit_rate": round(sel_rate, 4),
        "selected_hit_rate_ci95": list(wilson(int(found), len(sel))),
        "baseline_checked": len(base),
        "baseline_refused": int(sum(base_hits)),
        "baseline_hit_rate": round(base_rate, 4),
        "baseline_hit_rate_ci95": list(wilson(int(sum(base_hits)), len(base))),
        "hit_rate_ratio": round(sel_rate / base_rate, 2) if base_rate else None,
        "by_lang": {
            lang: {
                "selected_checked": sum(r["lang"] == lang for r in sel),
                "selected_refused": sum(h for r, h in zip(sel, sel_hits, strict=True) if r["lang"] == lang),
                "baseline_checked": sum(r["lang"] == lang for r in base),
                "baseline_refused": sum(h for r, h in zip(base, base_hits, strict=True) if r["lang"] == lang),
            }
            for lang in langs
        },
        "cheap_vs_generated_agreement": round(agree, 4),
        "seconds_per_candidate": {
            "score_one_forward": round(score_s_per, 4),
            short: round(gen_s_per, 4),
            full: round(long_s_per, 4),
        },
        "batch": {"score": chat.batch_size, short: min(len(sel), chat.batch_size), full: len(long_rows)},
        "cost_ratio_vs_short_generation": round(gen_s_per / score_s_per, 2) if score_s_per else None,
        "cost_ratio_vs_full_answer": round(long_s_per / score_s_per, 2) if score_s_per else None,
        "forward_passes_per_candidate": {"score": 1, "short_generation": short_passes, "full_answer": full_passes},
        "seconds_per_boundary_prompt_found": per_found,
        "forward_passes_per_boundary_prompt_found": passes_found,
        "checked": [{k: r.get(k) for k in keys} for r in checked],
    }
