"""Difference-of-means refusal directions, one per layer, from captured activations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.directions.vector import SteeringVector
from rass.errors import DataError, EmptyInputError, RassError

if TYPE_CHECKING:
    import torch

    from rass.data.schema import PromptRecord
    from rass.models.chat import ChatModel

PROBE_POSITIONS = ("last", "eoi", "user_mean")


@dataclass
class Activations:
    """Per-layer activations (one row per prompt) plus each prompt's refusal score."""

    ids: list[str]
    layers: dict[int, torch.Tensor]  # layer -> [N, D]
    refusal_scores: torch.Tensor  # [N]
    position: str = "last"
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self, ids: Sequence[str]) -> list[int]:
        index = {k: i for i, k in enumerate(self.ids)}
        return [index[i] for i in ids]

    def save(self, path: Path) -> Path:
        import json

        import torch
        from safetensors.torch import save_file

        tensors = {f"layer.{k}": v.to(torch.float16).contiguous() for k, v in self.layers.items()}
        tensors["refusal_scores"] = self.refusal_scores.float().contiguous()
        tmp = path.with_name(path.name + ".tmp")
        meta = {"ids": json.dumps(self.ids), "position": self.position, "rass": json.dumps(self.meta)}
        save_file(tensors, str(tmp), metadata=meta)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Activations:
        import json

        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            keys = [k for k in f.keys() if k.startswith("layer.")]  # noqa: SIM118
            layers = {int(k.split(".")[1]): f.get_tensor(k).float() for k in keys}
            scores = f.get_tensor("refusal_scores")
        return cls(
            json.loads(meta["ids"]),
            layers,
            scores,
            meta.get("position", "last"),
            json.loads(meta.get("rass", "{}")),
        )


def collect(
    chat: ChatModel, records: Sequence[PromptRecord], layers: Sequence[int], position: str = "last"
) -> Activations:
    """One batched pass: residual stream entering each layer, reduced at ``position``, + refusal scores."""
    import torch

    if position not in PROBE_POSITIONS:
        raise RassError(f"unknown position {position!r}; use {', '.join(PROBE_POSITIONS)}")
    if not records:
        raise EmptyInputError("no prompts to probe")
    sites = [f"resid_pre.{k}" for k in layers]
    out = chat.forward([r.text for r in records], sites=sites, positions=position, refusal=True)  # type: ignore[arg-type]
    acts = {}
    for k in layers:
        a = out.activations[f"resid_pre.{k}"]
        if a.dim() == 3:  # eoi: mean over the end-of-instruction tokens
            a = a.mean(1)
        if not torch.isfinite(a).all():
            raise RassError(f"activations at layer {k} contain NaN or infinite values")
        acts[k] = a
    assert out.refusal_scores is not None
    return Activations([r.id for r in records], acts, out.refusal_scores, position)


def diff_in_means(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """mean(pos) − mean(neg): the direction pointing from harmless toward harmful."""
    return pos.float().mean(0) - neg.float().mean(0)


def extract_directions(
    acts: Activations, harmful_ids: Sequence[str], harmless_ids: Sequence[str], *, min_per_class: int = 4
) -> SteeringVector:
    """Per-layer difference of means between harmful and harmless prompts."""
    if len(harmful_ids) < min_per_class or len(harmless_ids) < min_per_class:
        raise DataError(
            f"need at least {min_per_class} harmful and {min_per_class} harmless prompts to extract a "
            f"direction; got {len(harmful_ids)} and {len(harmless_ids)}"
        )
    hr, hl = acts.rows(harmful_ids), acts.rows(harmless_ids)
    vectors = {k: diff_in_means(v[hr], v[hl]) for k, v in acts.layers.items()}
    return SteeringVector(
        vectors,
        {"position": acts.position, "n_harmful": len(hr), "n_harmless": len(hl), "method": "diff_in_means"},
    )
