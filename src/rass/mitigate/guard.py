"""A refusal guard after training: the refusal direction added back to the inputs the trained model still
places far on the harmful side, and to no others.

Why: every training of the 1.5B let a few refused harmful requests through (a grooming request, the Spanish
suicide method), whatever its anchors, and scaling the adapter down lost them before it lost the benign
gains. Under the trained adapter most of them still project above nearly every benign prompt. The guard is
the issue's conditional steering turned around: a row whose projection on the refusal direction (probe layer,
last prompt token, adapter on) is above a threshold gets ``+alpha * v`` at that layer; below it the trained
model answers untouched. The threshold is a quantile of benign prompts the training never saw, so what
share of such prompts the guard may touch is said in advance, not tuned on evaluation items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rass.errors import RassError

if TYPE_CHECKING:
    import torch

    from rass.mitigate.steer import SteerBand
    from rass.models.chat import ChatModel

GUARD_ALPHA = 1.0  # the whole difference of means: a guarded row is moved as far as harmful is from harmless


def guard_reference(langs: Sequence[str], trained_ids: Iterable[str]) -> list[str]:
    """Benign prompts of ``langs`` the training never saw: train-split look-alike seeds of concepts none of
    ``trained_ids`` is of (a concept is an English seed and its translations), and harmless train prompts
    not among them. Train split only: no evaluation item decides the threshold."""
    from rass.data.seeds import load_seeds
    from rass.mitigate.lookalikes import concept

    seen = {i.removeprefix("seed:") for i in trained_ids}
    looks = load_seeds(langs=list(langs), sets=["lookalike"], splits=["train"])
    trained_concepts = {concept(r.to_dict()) for r in looks if r.id in seen}
    harmless = load_seeds(langs=list(langs), sets=["harmless"], splits=["train"])
    return [r.text for r in looks if concept(r.to_dict()) not in trained_concepts] + [
        r.text for r in harmless if r.id not in seen
    ]


def fit_guard(chat: ChatModel, prompts: Sequence[str], direction: torch.Tensor, layer: int, quantile: float) -> float:
    """The projection (on the unit ``direction`` at ``layer``, last prompt token) that ``quantile`` of
    ``prompts`` fall at or below, measured on ``chat`` as it is now (the trained adapter on)."""
    import torch

    if not 0 < quantile < 1:
        raise RassError(f"the guard quantile is a share of benign prompts, between 0 and 1, got {quantile}")
    if not prompts:
        raise RassError("no benign reference prompts to fit the guard on: every train-split prompt was trained on")
    site = f"resid_pre.{layer}"
    unit = direction / direction.norm()
    proj = chat.forward(list(prompts), sites=[site]).activations[site].float() @ unit.float()
    return float(torch.quantile(proj, quantile))


def guard_band(threshold: float, alpha: float = GUARD_ALPHA) -> SteerBand:
    """The guard as conditional steering: every row projecting above ``threshold`` gets ``+alpha * v``
    (a band's alpha is subtracted, so the guard's is negative)."""
    import math

    from rass.mitigate.steer import SteerBand

    return SteerBand(threshold, math.inf, -alpha)


def guard_record(threshold: float, quantile: float, layer: int, reference: int) -> dict[str, Any]:
    """What a user needs to apply the guard elsewhere: with the run's directions file, this is all of it."""
    return {"quantile": quantile, "threshold": round(threshold, 4), "alpha": GUARD_ALPHA, "layer": layer,
            "reference_prompts": reference, "position": "last prompt token", "site": f"resid_pre.{layer}"}  # fmt: skip
