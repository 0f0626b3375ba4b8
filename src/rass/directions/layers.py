"""Layer choice: which layer's direction is the model's refusal boundary?

Harmful and harmless prompts separate at almost every layer, so that cannot choose. Each candidate
layer is scored against harder contrasts (look-alike benign prompts, harmless requests phrased as
imperatives), on how well its projection predicts the model's own refusals of look-alikes, and by
a causal check: adding the direction to harmless prompts must raise the refusal score, ablating it
on harmful prompts must lower it, and ablation must change harmless next-token distributions little
(KL). The rule and thresholds are explicit (``LayerRule``) and every number is saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rass.stats import auroc, cohens_d

if TYPE_CHECKING:
    import torch

    from rass.directions.extract import Activations
    from rass.directions.vector import SteeringVector
    from rass.models.chat import ChatModel


@dataclass(frozen=True)
class LayerRule:
    """Thresholds a layer must pass; among those that pass, the best look-alike refusal AUROC wins."""

    min_auroc_harmful_harmless: float = 0.95
    min_steer_gain: float = 1.0  # log-odds gained by harmless prompts under +1 x direction
    min_ablation_drop: float = 1.0  # log-odds lost by harmful prompts under ablation
    max_kl: float = 0.5  # mean KL(base || ablated) of harmless next-token distributions, nats
    first_frac: float = 0.25  # candidates span this fraction of depth ...
    last_frac: float = 0.8  # ... to this one
    stride: int = 1

    def candidates(self, n_layers: int) -> list[int]:
        lo = max(1, round(self.first_frac * n_layers))
        hi = max(lo, min(n_layers - 1, round(self.last_frac * n_layers)))
        return list(range(lo, hi + 1, max(1, self.stride)))


def separation_metrics(
    acts: Activations,
    direction: SteeringVector,
    groups: Mapping[str, Sequence[str]],
    refused: dict[str, bool],
) -> dict[int, dict[str, Any]]:
    """Per layer: AUROCs of the projection for harmful vs each contrast, and for look-alike refusal."""
    out: dict[int, dict[str, Any]] = {}
    unit = direction.normalized()
    for k in direction.layers:
        proj = (acts.layers[k] @ unit.layer_vectors[k]).tolist()
        by_id = dict(zip(acts.ids, proj, strict=True))

        def p(ids: Sequence[str], by_id: dict[str, float] = by_id) -> list[float]:
            return [by_id[i] for i in ids]

        harm = p(groups["harmful"])
        m: dict[str, Any] = {"layer": k, "norm": round(float(direction.layer_vectors[k].norm()), 4)}
        for name in ("harmless", "imperative", "lookalike"):
            other = p(groups.get(name, []))
            m[f"auroc_harmful_vs_{name}"] = _r(auroc(harm + other, [True] * len(harm) + [False] * len(other)))
        look = list(groups.get("lookalike", []))
        ref = [refused[i] for i in look]
        m["auroc_lookalike_refusal"] = _r(auroc(p(look), ref))
        m["d_lookalike_refusal"] = _r(
            cohens_d([by_id[i] for i in look if refused[i]], [by_id[i] for i in look if not refused[i]])
        )
        m["lookalike_refused"] = int(sum(ref))
        out[k] = m
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def causal_metrics(
    chat: ChatModel,
    direction: SteeringVector,
    layer: int,
    harmful: Sequence[str],
    harmless: Sequence[str],
    base_harmful: torch.Tensor,
    base_harmless: torch.Tensor,
    base_logprobs: torch.Tensor,
    threshold: float,
) -> dict[str, Any]:
    """Steer harmless prompts up at ``layer``; ablate the layer's direction everywhere on both sets."""
    import torch

    v = direction.layer_vectors[layer]
    with chat.steer(v, 1.0, layers=[layer]):
        up = chat.refusal_score(list(harmless))
    with chat.ablate(v):
        down = chat.refusal_score(list(harmful))
        ablated = chat.forward(list(harmless), logprobs=True).logprobs
    assert ablated is not None
    kl = (base_logprobs.exp() * (base_logprobs - ablated)).sum(-1)
    return {
        "steer_gain": round(float((up - base_harmless).mean()), 4),
        "harmless_refusal_rate_base": round(float((base_harmless > threshold).float().mean()), 4),
        "harmless_refusal_rate_steered": round(float((up > threshold).float().mean()), 4),
        "ablation_drop": round(float((base_harmful - down).mean()), 4),
        "harmful_refusal_rate_base": round(float((base_harmful > threshold).float().mean()), 4),
        "harmful_refusal_rate_ablated": round(float((down > threshold).float().mean()), 4),
        "kl_harmless_ablated": round(float(kl.clamp_min(0).mean()), 5),
        "finite": bool(torch.isfinite(up).all() and torch.isfinite(down).all()),
    }


def choose_layer(metrics: dict[int, dict[str, Any]], rule: LayerRule) -> tuple[int, dict[str, Any]]:
    """Apply the rule; returns the layer and a record of why."""

    def passes(m: dict[str, Any]) -> list[str]:
        fails = []
        if (m.get("auroc_harmful_vs_harmless") or 0) < rule.min_auroc_harmful_harmless:
            fails.append("auroc_harmful_vs_harmless")
        if "steer_gain" in m:
            if m["steer_gain"] < rule.min_steer_gain:
                fails.append("steer_gain")
            if m["ablation_drop"] < rule.min_ablation_drop:
                fails.append("ablation_drop")
            if m["kl_harmless_ablated"] > rule.max_kl:
                fails.append("kl_harmless_ablated")
        else:
            fails.append("no causal check")
        return fails

    def rank(m: dict[str, Any]) -> tuple[float, float, float]:
        return (
            m.get("auroc_lookalike_refusal") or 0.0,
            m.get("auroc_harmful_vs_imperative") or 0.0,
            m.get("auroc_harmful_vs_lookalike") or 0.0,
        )

    for m in metrics.values():
        m["fails"] = passes(m)
    passing = [k for k, m in metrics.items() if not m["fails"]]
    pool = passing or [k for k, m in metrics.items() if "steer_gain" in m] or list(metrics)
    best = max(pool, key=lambda k: rank(metrics[k]))
    why = {
        "rule": asdict(rule),
        "passing": passing,
        "chosen": best,
        "note": (
            "best look-alike refusal AUROC among layers passing every threshold"
            if passing
            else "no layer passed every threshold; best look-alike refusal AUROC among candidates"
        ),
    }
    return best, why
