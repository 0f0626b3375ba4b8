"""Steering distance: the smallest push along the refusal direction that flips the model's decision.

The search is batched over prompts and generic over an *oracle* mapping one coefficient per
prompt to one refusal score per prompt. A coarse grid (in units of the direction, i.e. of the
harmful–harmless mean gap) brackets each prompt's flip point, then bisection narrows it. Prompts
already refused are pushed toward compliance (negative alpha), the others toward refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

Oracle = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
"""oracle(rows, alphas) -> refusal scores for those prompt rows steered by those coefficients."""

DEFAULT_GRID = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


@dataclass
class FlipResult:
    alpha: list[float | None]  # signed coefficient at which the decision flips; None: not within the grid
    refused_at_zero: list[bool]
    tolerance: float
    evaluations: list[int] = field(default_factory=list)  # oracle rows spent per prompt


def flip_search(
    oracle: Oracle,
    base_scores: torch.Tensor,
    threshold: float,
    *,
    grid: Sequence[float] = DEFAULT_GRID,
    iters: int = 5,
) -> FlipResult:
    """Find, for every prompt, the signed alpha where ``score > threshold`` changes."""
    import torch

    n = base_scores.shape[0]
    refused = (base_scores > threshold).tolist()
    sign = torch.tensor([-1.0 if r else 1.0 for r in refused])
    lo = torch.zeros(n)
    hi = torch.full((n,), float("nan"))
    evals = [0] * n
    active = torch.ones(n, dtype=torch.bool)
    prev = 0.0
    for g in grid:
        rows = active.nonzero().flatten()
        if rows.numel() == 0:
            break
        scores = oracle(rows, sign[rows] * g)
        for k, r in enumerate(rows.tolist()):
            evals[r] += 1
            if (float(scores[k]) > threshold) != refused[r]:
                lo[r], hi[r] = prev, g
                active[r] = False
            else:
                lo[r] = g
        prev = g
    found = ~torch.isnan(hi)
    for _ in range(iters):
        rows = found.nonzero().flatten()
        if rows.numel() == 0:
            break
        mid = (lo[rows] + hi[rows]) / 2
        scores = oracle(rows, sign[rows] * mid)
        for k, r in enumerate(rows.tolist()):
            evals[r] += 1
            if (float(scores[k]) > threshold) != refused[r]:
                hi[r] = mid[k]
            else:
                lo[r] = mid[k]
    alphas: list[float | None] = [float(sign[i] * hi[i]) if bool(found[i]) else None for i in range(n)]
    widths = (hi - lo)[found]
    tol = float(widths.max()) if widths.numel() else 0.0
    return FlipResult(alphas, refused, tol, evals)
