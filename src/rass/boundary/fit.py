"""The decision boundary along a direction: a logistic fit of refused-or-not on the projection.

The harmful/harmless midpoint is *not* the model's threshold (measured: most benign look-alikes
project far below it yet some are refused), so the threshold is fitted to the model's actual
decisions: P(refuse | x) = sigmoid(a·(x − t)), t being the boundary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rass.errors import RassError


@dataclass(frozen=True)
class BoundaryFit:
    threshold: float  # projection where P(refuse) = 0.5
    slope: float  # a: how sharp the boundary is, per projection unit
    n: int
    n_refused: int
    accuracy: float

    def probability(self, x: np.ndarray | Sequence[float]) -> np.ndarray:
        z = self.slope * (np.asarray(x, dtype=float) - self.threshold)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def distance(self, x: np.ndarray | Sequence[float]) -> np.ndarray:
        """Signed distance to the threshold (positive: on the refusing side)."""
        return np.asarray(x, dtype=float) - self.threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_boundary(
    x: Sequence[float], refused: Sequence[bool], *, l2: float = 1e-3, min_per_class: int = 2
) -> BoundaryFit:
    """Logistic regression of ``refused`` on ``x`` (Newton's method, light L2 so separable data fits)."""
    xs = np.asarray(x, dtype=float)
    y = np.asarray(refused, dtype=float)
    if len(xs) != len(y) or len(xs) == 0:
        raise RassError("the boundary fit needs one decision per projection")
    if not np.isfinite(xs).all():
        raise RassError("projections contain NaN or infinite values")
    n_ref = int(y.sum())
    if n_ref < min_per_class or len(y) - n_ref < min_per_class:
        raise RassError(
            f"cannot fit a boundary: {n_ref} refused and {len(y) - n_ref} answered prompts "
            f"(need at least {min_per_class} of each)"
        )
    mu, sd = xs.mean(), xs.std() or 1.0
    z = (xs - mu) / sd
    w = np.zeros(2)  # intercept, slope on standardised x
    feats = np.stack([np.ones_like(z), z], axis=1)
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(feats @ w, -50, 50)))
        grad = feats.T @ (p - y) + l2 * np.array([0.0, w[1]])
        hess = feats.T @ (feats * (p * (1 - p))[:, None]) + l2 * np.diag([1e-9, 1.0])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    b, a = w
    slope = a / sd
    if abs(a) < 1e-12:
        raise RassError("the projection does not predict refusal (flat logistic fit)")
    threshold = mu - b * sd / a
    pred = (slope * (xs - threshold)) > 0
    acc = float((pred == y.astype(bool)).mean())
    if not math.isfinite(threshold):
        raise RassError("the boundary fit diverged")
    return BoundaryFit(float(threshold), float(slope), len(xs), n_ref, acc)
