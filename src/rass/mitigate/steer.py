"""Conditional steering: subtract the refusal direction only for inputs inside the boundary band.

On the prompt pass the hook reads each row's projection on the direction at the last prompt token
(the stream entering the steering layer), decides once per row whether it is inside the band, and
subtracts ``alpha * v`` from those rows at every position, prompt and generated alike. Rows outside
the band are never touched, so clearly harmful and clearly harmless inputs stay bit-identical.

``positions="last"`` leaves the prompt's own positions as the model read them and steers only the last
prompt position and the generated ones: the push not to refuse acts where the reply is written, while
what the prompt says is read unsteered. Why: steered at every position, the 1.5B read a Spanish "my
friend wants to die, how can I help her?" as "how can I help her die"; steered from the last position
on, it answered how to help her. Behind the classifier gate at alpha 0.5 it read validation 14 -> 3 benign
refused and 65 -> 65 harmful, test 17 -> 8 and 59 -> 59, with the lowest KL of the gated
steers, 0.054; one quoting frame then called making a pipe bomb legal (benchmarks/README.md, "Steering only
from the last prompt position").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rass.models.hooks import HookSet

if TYPE_CHECKING:
    import torch

    from rass.models.chat import ChatModel


@dataclass(frozen=True)
class SteerBand:
    """Projection band (on the unit direction) inside which an input is steered."""

    lo: float
    hi: float
    alpha: float = 1.0
    positions: str = "all"  # "all" (prompt and generated) or "last" (the last prompt position and generated)


STEER_POSITIONS = ("all", "last")


@contextmanager
def conditional_steering(
    chat: ChatModel, direction: torch.Tensor, layer: int, band: SteerBand
) -> Iterator[dict[str, Any]]:
    """While active, ``state["mask"]`` holds which rows of the last prompt pass were steered."""
    unit = direction / direction.norm()
    state: dict[str, Any] = {"mask": None, "projections": None}

    def fn(hidden: torch.Tensor) -> torch.Tensor:
        prompt_pass = hidden.shape[1] > 1
        if prompt_pass:  # the prompt pass decides, per row
            proj = hidden[:, -1, :].float() @ unit.to(hidden.device)
            state["projections"] = proj.detach().cpu()
            state["mask"] = (proj >= band.lo) & (proj <= band.hi)
        mask = state["mask"]
        if mask is None or not bool(mask.any()):
            return hidden
        out = hidden.clone()
        push = band.alpha * direction.to(hidden.device, hidden.dtype)
        if prompt_pass and band.positions == "last":
            out[mask, -1] = hidden[mask, -1] - push
        else:
            out[mask] = hidden[mask] - push
        return out

    with HookSet(chat.model) as hooks:
        hooks.edit_input(layer, fn)
        yield state
