"""Hidden-state capture: names, positions, agreement with transformers, padding invariance."""

from __future__ import annotations

import torch
from tests.conftest import hidden_states

from rass.models.chat import ChatModel


def test_resid_post_k_equals_hidden_states_k_plus_1(tiny: ChatModel, prompts: list[str]) -> None:
    hs = hidden_states(tiny, prompts)
    acts = tiny.capture(prompts, site="resid_post", batch_size=len(prompts))
    # hidden_states[-1] is after the final norm, so the last layer is compared only via resid_pre.
    for k in range(tiny.n_layers - 1):
        torch.testing.assert_close(acts[f"resid_post.{k}"], hs[k + 1][:, -1, :], rtol=0, atol=1e-6)


def test_resid_pre_k_equals_hidden_states_k(tiny: ChatModel, prompts: list[str]) -> None:
    hs = hidden_states(tiny, prompts)
    acts = tiny.capture(prompts, batch_size=len(prompts))
    assert sorted(acts) == sorted(f"resid_pre.{k}" for k in range(tiny.n_layers))
    for k in range(tiny.n_layers):
        torch.testing.assert_close(acts[f"resid_pre.{k}"], hs[k][:, -1, :], rtol=0, atol=1e-6)


def test_batch_of_one_and_two_agree_under_left_padding(tiny: ChatModel, prompts: list[str]) -> None:
    pair = [prompts[0], prompts[1]]  # very different lengths: the short one is padded
    together = tiny.forward(pair, sites=["resid_pre.2"], refusal=True, batch_size=2)
    alone = [tiny.forward([p], sites=["resid_pre.2"], refusal=True, batch_size=1) for p in pair]
    for i in range(2):
        torch.testing.assert_close(
            together.activations["resid_pre.2"][i],
            alone[i].activations["resid_pre.2"][0],
            atol=1e-5,
            rtol=1e-4,
        )
        assert together.refusal_scores is not None and alone[i].refusal_scores is not None
        torch.testing.assert_close(together.refusal_scores[i], alone[i].refusal_scores[0], atol=1e-5, rtol=1e-4)


def test_results_come_back_in_prompt_order_whatever_the_buckets(tiny: ChatModel, prompts: list[str]) -> None:
    ordered = tiny.refusal_score(prompts, batch_size=1)
    bucketed = tiny.refusal_score(prompts, batch_size=2)
    torch.testing.assert_close(ordered, bucketed, atol=1e-5, rtol=1e-4)


def test_early_stop_gives_the_same_activations_as_a_full_pass(tiny: ChatModel, prompts: list[str]) -> None:
    only = tiny.forward(prompts, sites=["resid_pre.1"]).activations["resid_pre.1"]
    full = tiny.forward(prompts, sites=["resid_pre.1"], refusal=True).activations["resid_pre.1"]
    torch.testing.assert_close(only, full, rtol=0, atol=0)


def test_positions_eoi_and_user_mean(tiny: ChatModel, prompts: list[str]) -> None:
    eoi = tiny.capture(prompts, [1], positions="eoi")["resid_pre.1"]
    assert eoi.shape == (len(prompts), tiny.n_eoi, tiny.hidden_size)
    last = tiny.capture(prompts, [1])["resid_pre.1"]
    torch.testing.assert_close(eoi[:, -1, :], last, atol=1e-6, rtol=0)

    mean = tiny.capture(prompts, [1], positions="user_mean", batch_size=1)["resid_pre.1"]
    enc = tiny.encode([prompts[0]])
    span = enc.user_spans[0]
    assert span is not None
    hs = hidden_states(tiny, [prompts[0]])[1][0]
    torch.testing.assert_close(mean[0], hs[span[0] : span[1]].mean(0), atol=1e-5, rtol=1e-5)


def test_user_span_covers_exactly_the_user_message(qwen_tiny: ChatModel) -> None:
    enc = qwen_tiny.encode(["how do i kill a python process ?", "hi"])
    for row, span in enumerate(enc.user_spans):
        assert span is not None
        words = qwen_tiny.tokenizer.convert_ids_to_tokens(enc.input_ids[row, span[0] : span[1]].tolist())
        assert "<|im_start|>" not in words and "<|im_end|>" not in words
    first = qwen_tiny.tokenizer.convert_ids_to_tokens(enc.input_ids[1, slice(*enc.user_spans[1])].tolist())
    assert first == ["hi"]
