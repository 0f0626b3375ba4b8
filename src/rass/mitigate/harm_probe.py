"""A linear harm classifier on the unmitigated model's hidden state: the gate's other signal (``--gate-by
classifier``).

Why: the refusal direction separates what the model refuses from what it answers, and over-refused
look-alikes are exactly what it refuses wrongly, so a gate on it keeps many of them away from the adapter.
On the 1.5B's test split, of the 17 benign MORBench-core items it refused, gate 0.1 on the refusal direction
handed 7 to the adapter (halving out of reach); a logistic probe at the same layer, fitted on the shipped
train-split seeds (harmful against benign and look-alike) with its threshold at the same 0.1 quantile of
validation-split harmful seeds, handed 10 of them and none of the 59 refused harmful requests
(benchmarks/README.md, "A harm classifier as the gate").

The classifier is affine in the hidden state, so it is a direction and a threshold like any gate: the
weights divided by the features' scale are the direction (``vector``), and a quantile of held-out harmful
prompts' projections on it is the threshold. ``GatedChat`` and ``reach`` use it unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from rass.errors import RassError
from rass.mitigate.gate import Gate
from rass.runs import read_json_if, write_json
from rass.stats import auroc

if TYPE_CHECKING:
    import torch

    from rass.data.schema import PromptRecord
    from rass.models.chat import ChatModel

L2 = 1e-3  # on standardised features; 1e-2 read the same on the 1.5B's validation (AUROC 0.987 and 0.989)
CHUNK = 128  # prompts per saved part of the activation pass: a killed fit resumes from the last part
VERSION = 1  # bump when the fit changes, so cached probes are refitted


@dataclass(frozen=True)
class LinearProbe:
    """``score = feature · vector + offset`` on ``resid_pre.layer``: above 0 reads harmful."""

    layer: int
    vector: torch.Tensor
    offset: float
    stats: dict[str, Any]  # what it was fitted on and how well it separates held-out inputs

    def save(self, folder: Path) -> None:
        """``probe.safetensors``, then ``probe.json`` last: a probe whose json exists is whole."""
        from safetensors.torch import save_file

        save_file({"vector": self.vector.contiguous()}, str(folder / "probe.safetensors"))
        write_json(folder / "probe.json", {"offset": self.offset, "stats": self.stats})

    @classmethod
    def read(cls, folder: Path, layer: int) -> Self | None:
        """The probe ``save`` left in ``folder``, or None when it is absent or was never finished."""
        from safetensors.torch import load_file

        saved = read_json_if(folder / "probe.json")
        if saved is None or not (folder / "probe.safetensors").is_file():
            return None
        vector = load_file(str(folder / "probe.safetensors"))["vector"]
        return cls(layer, vector, float(saved["offset"]), saved["stats"])


@dataclass(frozen=True)
class HarmProbe(LinearProbe):
    """The feature is ``h`` at the last prompt token: the probe reads the request."""


def _key(chat: ChatModel, layer: int, records: Sequence[PromptRecord]) -> str:
    text = "\n".join([chat.fingerprint, str(layer), str(L2), str(VERSION),
                      *sorted(f"{r.id}\t{r.label}\t{r.split}\t{r.text}" for r in records)])  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _activations(chat: ChatModel, texts: Sequence[str], layer: int, folder: Path) -> torch.Tensor:
    """``resid_pre.layer`` activations (last prompt token) of ``texts``, saved a part at a time in ``folder``."""
    import torch
    from safetensors.torch import load_file, save_file

    site = f"resid_pre.{layer}"
    parts = []
    for start in range(0, len(texts), CHUNK):
        path = folder / f"part-{start // CHUNK:04d}.safetensors"
        if path.is_file():
            part = load_file(str(path))["acts"]
        else:
            part = chat.forward(list(texts[start : start + CHUNK]), sites=[site]).activations[site].float()
            tmp = path.with_suffix(".tmp")
            save_file({"acts": part.contiguous()}, str(tmp))
            tmp.replace(path)  # a part is whole or absent
        parts.append(part)
    return torch.cat(parts)


def _logistic(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """L2-regularised logistic regression on standardised ``x``, returned in ``x``'s own units (weights
    over the scale, offset absorbing the mean): deterministic L-BFGS in float64. ``weight`` scales each
    row's loss (mean 1 keeps the regularisation's strength)."""
    import torch

    x = x.double()
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")
    target = y.double()
    scale = None if weight is None else weight.double()

    def loss() -> torch.Tensor:
        opt.zero_grad()
        value = (
            torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, target, weight=scale) + L2 * (w**2).sum()
        )
        value.backward()
        return value

    opt.step(loss)
    vector = (w / sd).detach()
    return vector.float(), float((b - mu @ vector).detach())


def fit_harm_probe(chat: ChatModel, layer: int, cache: Path) -> HarmProbe:
    """Fit (or read back from ``cache``) the probe on the shipped seeds of every language: train split,
    harmful against benign and look-alike. The validation split is held out for the gate's threshold."""
    import torch

    from rass.data.seeds import load_seeds

    records = [r for r in load_seeds() if r.split in ("train", "validation")]
    train = [r for r in records if r.split == "train"]
    if not any(r.label == "harmful" for r in train) or all(r.label == "harmful" for r in train):
        raise RassError("the harm classifier needs shipped train-split seeds of both labels; none were found")
    if not any(r.split == "validation" and r.label == "harmful" for r in records):
        raise RassError("no shipped validation-split harmful seeds to place the classifier's gate on")
    folder = cache / f"harm-probe-{_key(chat, layer, records)}-L{layer}"
    known = HarmProbe.read(folder, layer)
    if known is not None:
        return known
    folder.mkdir(parents=True, exist_ok=True)
    acts = _activations(chat, [r.text for r in records], layer, folder)
    is_train = torch.tensor([r.split == "train" for r in records])
    y = torch.tensor([r.label == "harmful" for r in records], dtype=torch.float32)
    vector, offset = _logistic(acts[is_train], y[is_train])
    # one projection on the unit direction serves both: the AUROC (a monotone view of the score) and the gate
    proj = (acts @ (vector / vector.norm())).tolist()
    harmful = [p for r, p in zip(records, proj, strict=True) if r.split == "validation" and r.label == "harmful"]
    look = [p for r, p in zip(records, proj, strict=True) if r.split == "validation" and r.kind == "lookalike"]
    separation = auroc(harmful + look, [True] * len(harmful) + [False] * len(look))
    stats = {
        "train": {"harmful": int(y[is_train].sum()), "benign": int((1 - y[is_train]).sum())},
        "validation": {"harmful": len(harmful), "lookalike": len(look),
                       "auroc_harmful_vs_lookalike": None if separation is None else round(separation, 4)},
        "l2": L2, "site": f"resid_pre.{layer}", "position": "last prompt token",
        "seeds": "shipped seeds, every language: train split fits, validation split places the gate",
        "held_harmful_projections": harmful,  # on the unit vector: where the gate's quantile is taken
    }  # fmt: skip
    probe = HarmProbe(layer, vector, offset, stats)
    probe.save(folder)
    return probe


def classifier_gate(probe: HarmProbe, quantile: float) -> Gate:
    """The gate on the probe's direction: the ``quantile`` of the validation-split harmful seeds'
    projections, prompts the classifier never saw (the refusal-direction gate takes the probe's prompts)."""
    import numpy as np

    if not 0 < quantile < 1:
        raise RassError(f"the gate quantile is a share of harmful prompts, between 0 and 1, got {quantile}")
    held = probe.stats["held_harmful_projections"]
    return Gate(float(np.quantile(held, quantile)), probe.layer, quantile, len(held), by="classifier")
