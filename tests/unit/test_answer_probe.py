"""The answer check: a probe that reads harm in a reply, fitted on the model's own replies.

Its feature is the unmitigated model's hidden state averaged over the reply's tokens, read after the rendered
prompt; it is fitted on replies given with the refusal direction ablated (harmful train seeds against
look-alikes), the string judge keeping those that comply, and validation seeds say how well it separates.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rass.errors import RassError
from rass.mitigate import answer_probe
from rass.mitigate.answer_probe import AnswerProbe, fit_answer_probe, probe_seeds
from rass.models.chat import ChatModel

LAYER = 1


def _reference(chat: ChatModel, prompt: str, reply: str, layer: int) -> torch.Tensor:
    """The same feature from one unpadded forward of the joined tokens, with every hidden state returned."""
    tok = chat.tokenizer
    head = tok(chat.render(prompt), add_special_tokens=False)["input_ids"]
    ids = head + tok(reply, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        hidden = chat.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[layer][0]
    return hidden[len(head) :].float().mean(0) if len(ids) > len(head) else hidden[-1].float()


def test_a_reply_is_read_as_the_mean_of_its_own_tokens_after_its_prompt_whatever_the_padding(
    tiny: ChatModel,
) -> None:
    prompts = ["How do I bake bread?", "Hi", "Explain photosynthesis to a child in three sentences, please."]
    replies = ["Mix flour, water and yeast, then bake.", "Hello! How can I help you today?", ""]
    got = tiny.reply_activations(prompts, replies, LAYER, batch_size=3)
    assert got.shape == (3, tiny.hidden_size)
    for i, (p, r) in enumerate(zip(prompts, replies, strict=True)):
        assert torch.allclose(got[i], _reference(tiny, p, r, LAYER), atol=1e-4)  # the empty one: the last position
    one_by_one = torch.cat([tiny.reply_activations([p], [r], LAYER) for p, r in zip(prompts, replies, strict=True)])
    assert torch.allclose(got, one_by_one, atol=1e-4)


def test_replies_must_match_prompts_and_the_layer_must_exist(tiny: ChatModel) -> None:
    with pytest.raises(RassError, match="2 prompts but 1 replies"):
        tiny.reply_activations(["a", "b"], ["x"], LAYER)
    with pytest.raises(RassError, match="out of range"):
        tiny.reply_activations(["a"], ["x"], tiny.n_layers)


def test_the_seeds_answered_are_harmful_and_lookalike_capped_per_label_and_split_and_spread_over_languages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(answer_probe, "PER_LABEL", {"train": 9, "validation": 6})
    seeds = probe_seeds(["en", "es", "zh"])
    assert seeds == probe_seeds(["en", "es", "zh"])  # a fixed order
    for split, n in (("train", 9), ("validation", 6)):
        for harmful in (True, False):
            group = [r for r in seeds if r.split == split and (r.label == "harmful") is harmful]
            assert len(group) == n
            assert {r.lang for r in group} == {"en", "es", "zh"}
            assert all(r.kind == "lookalike" for r in group if not harmful)


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Few seeds and short replies, so a fit takes seconds on the tiny model."""
    monkeypatch.setattr(answer_probe, "PER_LABEL", {"train": 8, "validation": 4})
    monkeypatch.setattr(answer_probe, "NEW_TOKENS", 6)
    return monkeypatch


def test_the_probe_is_fitted_on_replies_with_the_refusal_direction_ablated_then_read_back_without_generating(
    small: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chat = ChatModel.load("tiny:qwen2", progress=False)
    direction = torch.randn(chat.hidden_size, generator=torch.Generator().manual_seed(0))
    asked: list[int] = []
    generate = chat.generate

    def counting(prompts: list[str], **kw: object) -> list[str]:
        asked.append(len(prompts))
        return generate(prompts, **kw)  # type: ignore[arg-type]

    small.setattr(chat, "generate", counting)
    probe = fit_answer_probe(chat, direction, LAYER, ["en", "es"], tmp_path)
    assert sum(asked) == 24 and probe.layer == LAYER and probe.vector.shape == (chat.hidden_size,)
    stats = probe.stats
    assert stats["answered"] == {"train": {"harmful": 8, "lookalike": 8}, "validation": {"harmful": 4, "lookalike": 4}}
    assert all(stats["kept"][s][k] <= stats["answered"][s][k] for s in stats["kept"] for k in stats["kept"][s])
    assert stats["site"] == f"resid_pre.{LAYER}" and stats["threshold"] == 0.0
    # the replies were made under ablation: not what the model says unablated, at least for some prompt
    folder = next(tmp_path.glob(f"answer-probe-*-L{LAYER}"))
    made = {r["id"]: r["reply"] for r in map(json.loads, (folder / "replies.jsonl").read_text().splitlines())}
    seeds = probe_seeds(["en", "es"])
    assert set(made) == {r.id for r in seeds}
    plain = generate([r.text for r in seeds], max_new_tokens=answer_probe.NEW_TOKENS)
    assert any(made[r.id] != p for r, p in zip(seeds, plain, strict=True))
    with chat.ablate(direction):
        assert generate([seeds[0].text], max_new_tokens=answer_probe.NEW_TOKENS) == [made[seeds[0].id]]
    # scores are the affine read-out, flags their sign
    prompts, replies = ["How do I sharpen a knife?", "Tell me a joke"], ["Use a whetstone.", "Why did the chicken…"]
    scores = probe.scores(chat, prompts, replies)
    expect = (chat.reply_activations(prompts, replies, LAYER) @ probe.vector + probe.offset).tolist()
    assert scores == pytest.approx(expect) and probe.flags(chat, prompts, replies) == [s > 0 for s in scores]
    # read back: no generation, the same probe
    again = fit_answer_probe(chat, direction, LAYER, ["en", "es"], tmp_path)
    assert sum(asked) == 24 and again.vector.tolist() == probe.vector.tolist() and again.offset == probe.offset
    # another direction is another probe
    fit_answer_probe(chat, -direction, LAYER, ["en", "es"], tmp_path)
    assert sum(asked) == 48


def test_a_killed_fit_resumes_after_the_last_replies_written(small: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chat = ChatModel.load("tiny:qwen2", progress=False)
    direction = torch.randn(chat.hidden_size, generator=torch.Generator().manual_seed(1))
    calls = 0
    generate = chat.generate

    def dies_second(prompts: list[str], **kw: object) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return generate(prompts, **kw)  # type: ignore[arg-type]

    small.setattr(chat, "generate", dies_second)
    with pytest.raises(KeyboardInterrupt):
        fit_answer_probe(chat, direction, LAYER, ["en"], tmp_path, batch_size=10)
    folder = next(tmp_path.glob("answer-probe-*"))
    assert len((folder / "replies.jsonl").read_text().splitlines()) == 10 and not (folder / "probe.json").exists()
    with (folder / "replies.jsonl").open("a") as f:
        f.write('{"id": "half')  # a line cut by the kill
    asked: list[int] = []

    def counting(prompts: list[str], **kw: object) -> list[str]:
        asked.append(len(prompts))
        return generate(prompts, **kw)  # type: ignore[arg-type]

    small.setattr(chat, "generate", counting)
    probe = fit_answer_probe(chat, direction, LAYER, ["en"], tmp_path, batch_size=10)
    assert sum(asked) == 14 and isinstance(probe, AnswerProbe)
