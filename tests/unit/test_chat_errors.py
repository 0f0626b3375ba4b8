"""Bad input raises typed errors from the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from rass.errors import (
    EmptyInputError,
    ModelLoadError,
    ModelNotPreparedError,
    PromptTooLongError,
    RassError,
    UnknownModelError,
)
from rass.models.chat import ChatModel
from rass.models.spec import describe, load_model


def test_empty_prompt_lists_and_empty_prompts(qwen_tiny: ChatModel) -> None:
    with pytest.raises(EmptyInputError, match="empty"):
        qwen_tiny.refusal_score([])
    with pytest.raises(EmptyInputError, match="prompt 1 is empty"):
        qwen_tiny.generate(["hi", "   "])


def test_prompt_longer_than_the_context(qwen_tiny: ChatModel) -> None:
    with pytest.raises(PromptTooLongError, match="prompt 0 is .* tokens long"):
        qwen_tiny.refusal_score(["hi " * 600])
    with pytest.raises(PromptTooLongError, match="reserved"):
        qwen_tiny.generate(["hi " * 490], max_new_tokens=64)


def test_unknown_model_error_lists_known_ids() -> None:
    with pytest.raises(UnknownModelError, match="qwen2.5-coder-1.5b-instruct.*tiny:llama"):
        describe("gpt-17")
    with pytest.raises(UnknownModelError, match="tiny family"):
        describe("tiny:gpt2")


def test_spec_kinds(tmp_path: Path) -> None:
    assert describe("tiny:llama") == "tiny"
    assert describe("smollm2-135m-instruct") == "registry"
    assert describe(str(tmp_path)) == "folder"
    assert describe("Qwen/Qwen2.5-0.5B-Instruct") == "hub"


def test_unprepared_registry_model_says_how_to_prepare(rass_home: Path) -> None:
    with pytest.raises(ModelNotPreparedError, match="rass models prepare smollm2-135m-instruct"):
        load_model("smollm2-135m-instruct")


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(str(tmp_path))


def test_unknown_position_and_site(qwen_tiny: ChatModel) -> None:
    with pytest.raises(RassError, match="unknown position"):
        qwen_tiny.forward(["hi"], sites=["resid_pre.0"], positions="middle")  # type: ignore[arg-type]
    with pytest.raises(RassError, match="unknown site"):
        qwen_tiny.forward(["hi"], sites=["resid_mid.0"])
    with pytest.raises(RassError, match="unknown site"):
        qwen_tiny.forward(["hi"], sites=["resid_pre.99"])


def test_a_saved_folder_loads_like_the_original(qwen_tiny: ChatModel, tmp_path: Path) -> None:
    qwen_tiny.model.save_pretrained(tmp_path)
    qwen_tiny.tokenizer.save_pretrained(tmp_path)
    again = load_model(str(tmp_path), progress=False)
    assert again.fingerprint.startswith("folder-sha256:")
    assert again.refusal_score(["hi"]).tolist() == pytest.approx(qwen_tiny.refusal_score(["hi"]).tolist(), abs=1e-5)
