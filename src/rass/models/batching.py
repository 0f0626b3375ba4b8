"""Length bucketing: batch prompts of similar length so left padding wastes little compute."""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], batch_size: int, *, bucket: bool = True) -> list[list[int]]:
    """Index lists, one per batch. With ``bucket`` the longest prompts go first (fail fast on OOM)."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if bucket else list(range(len(lengths)))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padding_waste(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of the token grid that is padding under this batch plan."""
    grid = sum(max(lengths[i] for i in b) * len(b) for b in batches if b)
    real = sum(lengths)
    return 0.0 if grid == 0 else 1.0 - real / grid
