"""SteeringVector is a value object: arithmetic, cosine, safetensors round trip, size checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rass.directions import SteeringVector
from rass.errors import DataError, DimensionMismatchError


def test_arithmetic_returns_new_vectors() -> None:
    a = SteeringVector({1: torch.ones(4)})
    b = SteeringVector({1: torch.full((4,), 2.0), 2: torch.ones(4)})
    total = a + b
    assert total.layers == [1, 2]
    torch.testing.assert_close(total.layer_vectors[1], torch.full((4,), 3.0))
    torch.testing.assert_close((b - a).layer_vectors[1], torch.ones(4))
    torch.testing.assert_close((2 * a).layer_vectors[1], torch.full((4,), 2.0))
    torch.testing.assert_close(a.layer_vectors[1], torch.ones(4))  # unchanged


def test_cosine_and_normalisation() -> None:
    a = SteeringVector({0: torch.tensor([3.0, 4.0])})
    assert a.normalized().norms() == {0: pytest.approx(1.0)}
    assert a.cosine(a * -2.0) == {0: pytest.approx(-1.0)}


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    v = SteeringVector({3: torch.randn(8), 5: torch.randn(8)}, {"model": "tiny:qwen2", "layer": 3})
    path = v.save(tmp_path / "dir" / "refusal.safetensors")
    back = SteeringVector.load(path)
    assert back.layers == [3, 5] and back.meta == {"model": "tiny:qwen2", "layer": 3}
    for k in v.layers:
        assert torch.equal(back.layer_vectors[k], v.layer_vectors[k])
    assert not list(tmp_path.glob("**/*.tmp"))


def test_bad_inputs_raise_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(DimensionMismatchError):
        SteeringVector({})
    with pytest.raises(DimensionMismatchError):
        SteeringVector({0: torch.ones(3), 1: torch.ones(4)})
    with pytest.raises(DimensionMismatchError):
        SteeringVector({0: torch.ones(3)}) + SteeringVector({0: torch.ones(4)})
    with pytest.raises(DimensionMismatchError, match="hidden size is 16"):
        SteeringVector({0: torch.ones(3)}).check(16)
    with pytest.raises(DataError, match="not found"):
        SteeringVector.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(DataError):
        SteeringVector.load(tmp_path / "junk.safetensors")
