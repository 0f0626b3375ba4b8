"""Probe building blocks on synthetic data: directions, boundary fit, flip search, stats, layer cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rass.boundary.fit import fit_boundary
from rass.boundary.flip import flip_search
from rass.directions.extract import Activations, diff_in_means, extract_directions
from rass.errors import DataError, RassError
from rass.models.chat import ChatModel
from rass.models.partial import LayerCache
from rass.stats import auroc, cohens_d, mann_whitney


def test_a_planted_direction_is_recovered() -> None:
    gen = torch.Generator().manual_seed(0)
    d = 64
    planted = torch.randn(d, generator=gen)
    planted /= planted.norm()
    harmless = torch.randn(1000, d, generator=gen)
    harmful = torch.randn(1000, d, generator=gen) + 6.0 * planted
    found = diff_in_means(harmful, harmless)
    assert torch.nn.functional.cosine_similarity(found, planted, dim=0) > 0.99


def test_extract_directions_per_layer_and_minimum_counts() -> None:
    gen = torch.Generator().manual_seed(1)
    planted = {k: torch.randn(16, generator=gen) for k in (0, 1)}
    ids = [f"h{i}" for i in range(40)] + [f"b{i}" for i in range(40)]
    layers = {
        k: torch.cat([torch.randn(40, 16, generator=gen) * 0.1 + v, torch.randn(40, 16, generator=gen) * 0.1])
        for k, v in planted.items()
    }
    acts = Activations(ids, layers, torch.zeros(80))
    sv = extract_directions(acts, ids[:40], ids[40:])
    for k, v in planted.items():
        assert torch.nn.functional.cosine_similarity(sv.layer_vectors[k], v, dim=0) > 0.99
    with pytest.raises(DataError, match="at least 4 harmful"):
        extract_directions(acts, ids[:2], ids[40:])


def test_activations_round_trip(tmp_path: Path) -> None:
    acts = Activations(["a", "b"], {3: torch.randn(2, 8)}, torch.tensor([0.5, -1.0]), "eoi", {"k": 1})
    back = Activations.load(acts.save(tmp_path / "acts.safetensors"))
    assert back.ids == ["a", "b"] and back.position == "eoi" and back.meta == {"k": 1}
    torch.testing.assert_close(back.layers[3], acts.layers[3], atol=1e-2, rtol=1e-3)  # stored as fp16
    torch.testing.assert_close(back.refusal_scores, acts.refusal_scores)


def test_the_boundary_fit_recovers_a_planted_threshold() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, 4000)
    p = 1 / (1 + np.exp(-2.0 * (x - 1.5)))
    y = rng.uniform(size=x.size) < p
    fit = fit_boundary(x, y)
    assert abs(fit.threshold - 1.5) < 0.15
    assert abs(fit.slope - 2.0) < 0.3
    assert fit.probability([fit.threshold])[0] == pytest.approx(0.5, abs=1e-9)
    assert fit.distance([2.5])[0] == pytest.approx(2.5 - fit.threshold)


def test_separable_decisions_still_fit_between_the_classes() -> None:
    fit = fit_boundary([-3, -2, -1, 4, 5, 6], [False, False, False, True, True, True])
    assert -1 < fit.threshold < 4 and fit.accuracy == 1.0


def test_the_boundary_fit_refuses_one_class_and_nans() -> None:
    with pytest.raises(RassError, match="0 refused"):
        fit_boundary([1.0, 2.0, 3.0], [False, False, False])
    with pytest.raises(RassError, match="NaN"):
        fit_boundary([1.0, float("nan"), 3.0, 4.0], [False, True, False, True])


def test_the_flip_search_finds_planted_flip_points() -> None:
    planted = torch.tensor([-0.8, -0.3, 0.4, 1.2, 2.6, 5.0])  # answer flips to refusal at +a, or vice versa
    slope = 3.0

    def oracle(rows: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
        # score = slope * (alpha - flip) for prompts that need +alpha; mirrored for refused ones
        flip = planted[rows]
        return slope * (alphas - flip)

    base = oracle(torch.arange(6), torch.zeros(6))
    res = flip_search(oracle, base, 0.0, iters=8)
    assert res.refused_at_zero == [True, True, False, False, False, False]
    for got, want in zip(res.alpha, planted.tolist(), strict=True):
        if abs(want) <= 3.0:
            assert got is not None and abs(got - want) <= res.tolerance + 1e-6
            assert res.tolerance < 0.05
        else:
            assert got is None  # beyond the grid: reported as not flipped
    assert all(e >= 1 for e in res.evaluations)


def test_stats_against_hand_computed_values() -> None:
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert auroc([1, 1], [True, False]) == pytest.approx(0.5)
    assert auroc([1, 2], [True, True]) is None
    mw = mann_whitney([5, 6, 7, 8], [1, 2, 3, 4])
    assert mw is not None and mw["u"] == 16 and mw["p"] < 0.05
    assert cohens_d([2, 3, 4], [0, 1, 2]) == pytest.approx(2.0)


def test_the_layer_cache_matches_full_forwards(tiny: ChatModel, prompts: list[str]) -> None:
    cache = LayerCache(tiny, prompts, 2)
    assert cache.exact
    delta = torch.randn(len(prompts), tiny.hidden_size)
    torch.testing.assert_close(cache.logits(delta), cache.full_logits(delta), atol=1e-4, rtol=1e-4)
    with tiny.steer(delta[0], 1.0, layers=[2]):
        hooked = tiny.next_token_logprobs(prompts[:1])
    torch.testing.assert_close(
        torch.log_softmax(cache.logits(delta[:1].expand(len(prompts), -1))[0], -1),
        hooked[0],
        atol=1e-4,
        rtol=1e-4,
    )
