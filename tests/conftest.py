"""Shared fixtures: tiny config-built chat models of two families, built once per session."""

from __future__ import annotations

import pytest
import torch

from rass.models.chat import ChatModel

FAMILIES = ["tiny:llama", "tiny:qwen2"]

PROMPTS = [
    "How do I kill a Python process?",
    "hi",
    "Write a short poem about the world, please.",
]


@pytest.fixture(scope="session", params=FAMILIES)
def tiny(request: pytest.FixtureRequest) -> ChatModel:
    return ChatModel.load(request.param, progress=False)


@pytest.fixture(scope="session")
def qwen_tiny() -> ChatModel:
    return ChatModel.load("tiny:qwen2", progress=False)


@pytest.fixture
def prompts() -> list[str]:
    return list(PROMPTS)


@pytest.fixture
def rass_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RASS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def hidden_states(chat: ChatModel, prompts: list[str]) -> tuple[torch.Tensor, ...]:
    """transformers' own ``output_hidden_states`` for the same left-padded batch (the reference)."""
    enc = chat.encode(prompts)
    with torch.inference_mode():
        out = chat.model(
            input_ids=enc.input_ids,
            attention_mask=enc.attention_mask,
            position_ids=enc.position_ids,
            output_hidden_states=True,
        )
    return tuple(out.hidden_states)
