"""SteeringVector: one direction per layer, with arithmetic, cosine and safetensors I/O.

A value object: operations return new vectors and never mutate. Tensors are kept on the CPU in
float32; hooks cast them to the model's device and dtype when they are used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.errors import DataError, DimensionMismatchError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class SteeringVector:
    """Per-layer vectors addressed by layer index (the residual stream *entering* that layer)."""

    layer_vectors: Mapping[int, torch.Tensor]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.layer_vectors:
            raise DimensionMismatchError("a SteeringVector needs at least one layer")
        sizes = {int(v.shape[-1]) for v in self.layer_vectors.values()}
        if len(sizes) != 1 or any(v.dim() != 1 for v in self.layer_vectors.values()):
            raise DimensionMismatchError(f"layer vectors must be 1-D of one size, got sizes {sizes}")
        object.__setattr__(
            self,
            "layer_vectors",
            {int(k): v.detach().to("cpu").float() for k, v in sorted(self.layer_vectors.items())},
        )

    @property
    def layers(self) -> list[int]:
        return list(self.layer_vectors)

    @property
    def hidden_size(self) -> int:
        return int(next(iter(self.layer_vectors.values())).shape[0])

    def check(self, hidden_size: int, n_layers: int | None = None) -> None:
        """Raise DimensionMismatchError unless this vector fits a model of that shape."""
        if self.hidden_size != hidden_size:
            raise DimensionMismatchError(
                f"direction has size {self.hidden_size} but the model's hidden size is {hidden_size}"
            )
        if n_layers is not None and any(not 0 <= k < n_layers for k in self.layer_vectors):
            raise DimensionMismatchError(
                f"direction has layers {self.layers} but the model has layers 0..{n_layers - 1}"
            )

    def _zip(self, other: SteeringVector) -> list[int]:
        if self.hidden_size != other.hidden_size:
            raise DimensionMismatchError(
                f"cannot combine directions of sizes {self.hidden_size} and {other.hidden_size}"
            )
        return sorted(set(self.layer_vectors) | set(other.layer_vectors))

    def __add__(self, other: SteeringVector) -> SteeringVector:
        import torch

        zero = torch.zeros(self.hidden_size)
        return SteeringVector(
            {k: self.layer_vectors.get(k, zero) + other.layer_vectors.get(k, zero) for k in self._zip(other)}
        )

    def __neg__(self) -> SteeringVector:
        return self * -1.0

    def __sub__(self, other: SteeringVector) -> SteeringVector:
        return self + (-other)

    def __mul__(self, alpha: float) -> SteeringVector:
        return SteeringVector({k: v * float(alpha) for k, v in self.layer_vectors.items()}, self.meta)

    __rmul__ = __mul__

    def norms(self) -> dict[int, float]:
        return {k: float(v.norm()) for k, v in self.layer_vectors.items()}

    def normalized(self) -> SteeringVector:
        """Unit-norm per layer (zero vectors stay zero)."""
        return SteeringVector({k: v / v.norm().clamp_min(1e-12) for k, v in self.layer_vectors.items()}, self.meta)

    def select(self, layers: list[int]) -> SteeringVector:
        missing = [k for k in layers if k not in self.layer_vectors]
        if missing:
            raise DimensionMismatchError(f"direction has no layer(s) {missing}; it has {self.layers}")
        return SteeringVector({k: self.layer_vectors[k] for k in layers}, self.meta)

    def cosine(self, other: SteeringVector) -> dict[int, float]:
        """Cosine similarity on the layers both vectors have."""
        import torch

        common = sorted(set(self.layer_vectors) & set(other.layer_vectors))
        return {
            k: float(torch.nn.functional.cosine_similarity(self.layer_vectors[k], other.layer_vectors[k], dim=0))
            for k in common
        }

    def save(self, path: str | Path) -> Path:
        """Write ``layer.{k}`` tensors plus JSON metadata into one safetensors file, atomically."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tensors = {f"layer.{k}": v.contiguous() for k, v in self.layer_vectors.items()}
        save_file(tensors, str(tmp), metadata={"rass": json.dumps(dict(self.meta), default=str)})
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SteeringVector:
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise DataError(f"direction file not found: {path}")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("rass", "{}"))
                vectors = {int(key.split(".", 1)[1]): f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
        except Exception as exc:  # safetensors raises its own error type for bad headers
            raise DataError(f"{path} is not a rass direction file: {exc}") from None
        return cls(vectors, meta)
