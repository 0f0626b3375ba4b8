"""A boundary term for LoRA SFT: move the trained prompts across the probe's boundary itself.

SFT on answers teaches what to say after each training prompt; the probe says where the model
decides, as a projection on the refusal direction at one layer with a fitted threshold. This term
adds to trl's loss a hinge on that projection, read at the last prompt token (the position the probe
reads): comply targets' prompts are pushed below the threshold, anchors' prompts kept above it, each
to a margin in the fitted logistic's log-odds (``margin``: 1.39 is p(refuse) 0.2 and 0.8), and rows
already past their margin cost nothing. Retain rows have no role: they sit far from the boundary.

Rows carry their role in the ``boundary_role`` column (-1 comply, +1 refuse, 0 none); the trainer
keeps that column through trl's preparation, hands it to ``compute_loss`` and reads the layer's
input with a forward pre-hook, so the model's forward and trl's own loss are untouched.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rass.errors import RassError

if TYPE_CHECKING:
    import torch

ROLE_COLUMN = "boundary_role"
COMPLY, NONE, REFUSE = -1, 0, 1
MARGIN = math.log(4.0)  # log-odds 1.39: comply prompts to p(refuse) <= 0.2, anchors kept >= 0.8


@dataclass(frozen=True)
class BoundaryTerm:
    """The probe's boundary at one layer and how strongly training should respect it."""

    layer: int
    unit: torch.Tensor  # the refusal direction at ``layer``, unit length
    threshold: float  # projection where the fitted p(refuse) is 0.5
    slope: float  # log-odds of refusing per projection unit (the fit's logistic slope)
    weight: float
    margin: float = MARGIN

    @classmethod
    def from_fit(cls, vector: torch.Tensor, fit: Mapping[str, Any], weight: float) -> BoundaryTerm:
        """The term for a run's ``boundary/fit.json`` and its direction at the fitted layer."""
        slope = float(fit.get("slope") or 0.0)
        if not slope > 0:
            raise RassError("the boundary fit has no positive slope to turn projections into log-odds: rerun the probe")
        unit = vector.detach().float().cpu()
        return cls(int(fit["layer"]), unit / unit.norm().clamp_min(1e-12), float(fit["threshold"]), slope, weight)

    def key(self) -> dict[str, Any]:
        """What the term is, for a training's resume key (the vector by digest)."""
        digest = hashlib.sha256(self.unit.numpy().tobytes()).hexdigest()[:16]
        return {"layer": self.layer, "threshold": round(self.threshold, 6), "slope": round(self.slope, 6),
                "weight": self.weight, "margin": round(self.margin, 6), "unit": digest}  # fmt: skip

    def log_odds(self, hidden: torch.Tensor) -> torch.Tensor:
        """The fitted log-odds of refusing for hidden states ``[N, H]`` at the layer."""
        return self.slope * (hidden.float() @ self.unit.to(hidden.device) - self.threshold)

    def penalty(self, hidden: torch.Tensor, roles: torch.Tensor) -> torch.Tensor:
        """Mean hinge over the rows with a role; zero (with a graph) when none has one."""
        logit = self.log_odds(hidden)
        active = roles.to(logit.device) != NONE
        if not bool(active.any()):
            return logit.sum() * 0.0
        signed = roles.to(logit.device)[active].float() * logit[active]
        return (self.margin - signed).clamp_min(0.0).mean()


def last_prompt_positions(labels: torch.Tensor) -> torch.Tensor:
    """Per row, the last prompt token: the one before the first label trl trains on."""
    trained = labels != -100
    if not bool(trained.any(dim=1).all()):
        raise RassError("a training row has no completion tokens left to find its prompt's end")
    return (trained.int().argmax(dim=1) - 1).clamp_min(0)


class RoleCollator:
    """trl's collator, plus the rows' boundary roles as a tensor (trl's own drops unknown keys)."""

    def __init__(self, inner: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> None:
        self.inner = inner

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        out = self.inner(examples)
        out[ROLE_COLUMN] = torch.tensor([int(e.get(ROLE_COLUMN, NONE)) for e in examples], dtype=torch.long)
        return out


def with_boundary_term(trainer_cls: type, term: BoundaryTerm) -> type:
    """``trainer_cls`` (trl's SFTTrainer) whose loss adds ``term.weight`` x the boundary hinge."""
    from rass.models.hooks import find_layers

    class Bounded(trainer_cls):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            trainer: Any = self
            trainer.data_collator = RoleCollator(trainer.data_collator)
            self.boundary_log: list[float] = []

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            columns = list(getattr(self, "_signature_columns", None) or [])
            if ROLE_COLUMN not in columns:
                self._signature_columns: Any = [*columns, ROLE_COLUMN]

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:  # fmt: skip
            roles = inputs.pop(ROLE_COLUMN, None)
            if roles is None or not bool((roles != NONE).any()):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            seen: list[torch.Tensor] = []

            def grab(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                seen.append(args[0] if args else kwargs["hidden_states"])

            layer = find_layers(self.accelerator.unwrap_model(model))[term.layer]
            handle = layer.register_forward_pre_hook(grab, with_kwargs=True)
            try:
                # outputs only when asked: trl then recomputes the logits in another forward pass
                got = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            finally:
                handle.remove()
            import torch

            loss, outputs = got if return_outputs else (got, None)
            hidden = seen[0]  # the training forward (a recomputing checkpoint or trl's logits pass come later)
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            last = hidden[rows, last_prompt_positions(inputs["labels"]).to(hidden.device)]
            extra = term.penalty(last, roles)
            self.boundary_log.append(float(extra.detach()))
            loss = loss + term.weight * extra
            return (loss, outputs) if return_outputs else loss

    return Bounded
