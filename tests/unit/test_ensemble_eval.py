"""benchmarks/ensemble_eval.py: training seeds answering together from their mean next-token distribution.

Its numbers in benchmarks/README.md are only as good as the mechanism, so the mechanism is held to what it
claims: an ensemble of one adapter twice answers exactly as that adapter (with its guard too), and the
ensemble's distribution is the members' mixture, each row under its own adapter.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from rass.evaluate.backends import TransformersBackend
from rass.mitigate.guard import guard_band
from rass.mitigate.steer import conditional_steering
from rass.models.adapters import attach_adapter
from rass.models.chat import ChatModel
from rass.models.hooks import find_layers

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from ensemble_eval import EnsembleBackend

peft = pytest.importorskip("peft")

PROMPTS = ["How do I kill a Python process?", "hi", "Write a short poem about the world, please."]
LAYER = 1


def _adapter(folder: Path, seed: int) -> Path:
    """A LoRA adapter on tiny:qwen2 with random, non-zero weight changes (two seeds differ)."""
    model = ChatModel.load("tiny:qwen2", progress=False).model
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj", "o_proj"]))
    gen = torch.Generator().manual_seed(seed)
    for name, p in wrapped.named_parameters():
        if "lora_B" in name:
            p.data.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    wrapped.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return _adapter(root / "a", 1), _adapter(root / "b", 2)


def _single(folder: Path) -> ChatModel:
    chat = ChatModel.load("tiny:qwen2", progress=False)
    attach_adapter(chat, folder)
    return chat


def _ensemble(folders: list[Path]) -> ChatModel:
    chat = ChatModel.load("tiny:qwen2", progress=False)
    chat.model = peft.PeftModel.from_pretrained(chat.model, str(folders[0]), adapter_name="m0")
    for i, f in enumerate(folders[1:], 1):
        chat.model.load_adapter(str(f), adapter_name=f"m{i}")
    chat.model.eval()
    chat.layers = find_layers(chat.model)
    return chat


def test_one_adapter_twice_answers_as_that_adapter_guard_included(adapters: tuple[Path, Path]) -> None:
    a, _ = adapters
    single = _single(a)
    direction = torch.randn(single.hidden_size, generator=torch.Generator().manual_seed(0))
    site = f"resid_pre.{LAYER}"
    proj = single.forward(PROMPTS, sites=[site]).activations[site].float() @ (direction / direction.norm())
    threshold = float(proj.median())  # some rows guarded, some not
    plain = TransformersBackend(single).generate(PROMPTS, max_new_tokens=8, batch_size=3)
    with conditional_steering(single, direction, LAYER, guard_band(threshold)):
        guarded = TransformersBackend(single).generate(PROMPTS, max_new_tokens=8, batch_size=3)
    assert guarded != plain  # the guard does something here, so its equality below means something

    twice = _ensemble([a, a])
    unguarded = EnsembleBackend(twice, ["m0", "m1"], [None, None], direction, LAYER)
    both_guarded = EnsembleBackend(twice, ["m0", "m1"], [threshold, threshold], direction, LAYER)
    assert unguarded.generate(PROMPTS, max_new_tokens=8, batch_size=3) == plain
    assert both_guarded.generate(PROMPTS, max_new_tokens=8, batch_size=3) == guarded


def test_the_ensemble_distribution_is_the_members_mixture(adapters: tuple[Path, Path]) -> None:
    a, b = adapters
    lp_a, lp_b = _single(a).next_token_logprobs(PROMPTS), _single(b).next_token_logprobs(PROMPTS)
    assert (lp_a - lp_b).abs().max() > 1e-2  # two different members
    both = _ensemble([a, b])
    direction = torch.ones(both.hidden_size)
    mixed = EnsembleBackend(both, ["m0", "m1"], [None, None], direction, LAYER).first_token_logprobs(PROMPTS)
    expected = torch.logsumexp(torch.stack([lp_a, lp_b]), 0) - math.log(2)
    assert torch.allclose(mixed, expected, atol=1e-4)
    # and the reply's first token is that mixture's greedy pick, not either member's
    first = EnsembleBackend(both, ["m0", "m1"], [None, None], direction, LAYER).generate(
        PROMPTS, max_new_tokens=1, batch_size=3
    )
    picks = [both.tokenizer.decode([int(i)], skip_special_tokens=True).strip() for i in expected.argmax(-1)]
    assert first == picks
