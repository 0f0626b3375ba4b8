"""Steering and ablation hooks: identity at alpha 0, no leaks, ablation, the right direction."""

from __future__ import annotations

import pytest
import torch

from rass.directions import SteeringVector
from rass.errors import DimensionMismatchError
from rass.models.chat import ChatModel
from rass.models.hooks import hook_count


def test_alpha_zero_is_bit_identical(tiny: ChatModel, prompts: list[str]) -> None:
    v = torch.randn(tiny.hidden_size)
    base = tiny.next_token_logprobs(prompts)
    base_text = tiny.generate(prompts, max_new_tokens=4, min_new_tokens=4)
    with tiny.steer(v, 0.0, layers=[0, 1]):
        steered = tiny.next_token_logprobs(prompts)
        steered_text = tiny.generate(prompts, max_new_tokens=4, min_new_tokens=4)
    assert torch.equal(base, steered)
    assert base_text == steered_text


def test_hook_count_returns_to_baseline_also_after_an_exception(tiny: ChatModel) -> None:
    baseline = hook_count(tiny.model)
    v = torch.randn(tiny.hidden_size)
    with tiny.steer(v, 1.0, layers=[0, 1]):
        assert hook_count(tiny.model) == baseline + 2
    assert hook_count(tiny.model) == baseline
    with pytest.raises(RuntimeError, match="boom"), tiny.ablate(v):
        assert hook_count(tiny.model) == baseline + tiny.n_layers
        raise RuntimeError("boom")
    assert hook_count(tiny.model) == baseline
    tiny.capture(["hi"], [0, 1])
    assert hook_count(tiny.model) == baseline


def test_hooks_added_by_others_survive(tiny: ChatModel) -> None:
    foreign = tiny.layers[0].register_forward_hook(lambda *a: None)
    try:
        with tiny.steer(torch.randn(tiny.hidden_size), 1.0, layers=[0]):
            pass
        assert foreign.id in tiny.layers[0]._forward_hooks
    finally:
        foreign.remove()


def test_ablation_drives_the_projection_to_zero(tiny: ChatModel, prompts: list[str]) -> None:
    v = torch.randn(tiny.hidden_size)
    unit = v / v.norm()
    before = tiny.capture(prompts, [2])["resid_pre.2"] @ unit
    with tiny.ablate(v, layers=[2]):
        after = tiny.capture(prompts, [2])["resid_pre.2"] @ unit
    assert before.abs().max() > 1e-3
    assert after.abs().max() < 1e-5


def test_steering_adds_exactly_alpha_v_at_its_layer(tiny: ChatModel, prompts: list[str]) -> None:
    v = torch.randn(tiny.hidden_size)
    base = tiny.capture(prompts, [1, 2])
    with tiny.steer(SteeringVector({2: v}), 3.0):
        steered = tiny.capture(prompts, [1, 2])
    torch.testing.assert_close(steered["resid_pre.1"], base["resid_pre.1"], rtol=0, atol=0)
    torch.testing.assert_close(steered["resid_pre.2"], base["resid_pre.2"] + 3.0 * v, atol=1e-5, rtol=1e-5)


def _planted_refusal_direction(chat: ChatModel) -> torch.Tensor:
    """A residual direction that the unembedding reads as 'refusal-start tokens'."""
    w = chat.model.get_output_embeddings().weight.detach()
    return w[chat.refusal_ids].mean(0) - w.mean(0)


def test_refusal_score_moves_with_a_planted_refusal_direction(tiny: ChatModel, prompts: list[str]) -> None:
    v = _planted_refusal_direction(tiny)
    v = v / v.norm()
    last = tiny.n_layers - 1
    base = tiny.refusal_score(prompts)
    with tiny.steer(v, 20.0, layers=[last]):
        up = tiny.refusal_score(prompts)
    with tiny.steer(v, -20.0, layers=[last]):
        down = tiny.refusal_score(prompts)
    # Random tiny weights read the direction weakly; the sign of the move is what must hold.
    assert torch.all(up > base + 0.05)
    assert torch.all(down < base - 0.05)


def test_prompt_and_generated_positions(qwen_tiny: ChatModel, prompts: list[str]) -> None:
    v = torch.randn(qwen_tiny.hidden_size) * 50
    base = qwen_tiny.refusal_score(prompts)
    base_text = qwen_tiny.generate(prompts, max_new_tokens=6, min_new_tokens=6)
    with qwen_tiny.steer(v, 1.0, layers=[1], positions="generated"):
        assert torch.equal(qwen_tiny.refusal_score(prompts), base)  # prompt pass untouched
        gen_only = qwen_tiny.generate(prompts, max_new_tokens=6, min_new_tokens=6)
    with qwen_tiny.steer(v, 1.0, layers=[1], positions="prompt"):
        assert not torch.equal(qwen_tiny.refusal_score(prompts), base)
    assert gen_only != base_text


def test_a_direction_of_the_wrong_size_is_refused(tiny: ChatModel) -> None:
    with (
        pytest.raises(DimensionMismatchError, match="hidden size"),
        tiny.steer(torch.randn(7), 1.0),
    ):
        pass
    with pytest.raises(DimensionMismatchError), tiny.steer(SteeringVector({0: torch.randn(7)})):
        pass
    with (
        pytest.raises(DimensionMismatchError, match="layers"),
        tiny.steer(SteeringVector({99: torch.randn(tiny.hidden_size)})),
    ):
        pass
