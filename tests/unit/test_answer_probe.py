"""The answer check: a probe that reads harm in a reply, fitted on the model's own replies.

Its feature is the unmitigated model's hidden state averaged over the reply's tokens, read after the rendered
prompt. It is fitted on the model's own replies: harmful, look-alike and plain harmless train seeds answered with
the refusal direction ablated, and harmful seeds answered as the model is; harmful answers against the rest,
every refusal among the rest. Validation seeds say how well it separates and how often it flags each kind.
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


SMALL = {"harmful": {"train": 8, "validation": 4}, "lookalike": {"train": 8, "validation": 4},
         "plain": {"train": 4, "validation": 2}, "refusal": {"train": 4, "validation": 2}}  # fmt: skip
SMALL_BY_SPLIT = {split: {group: caps[split] for group, caps in SMALL.items()} for split in ("train", "validation")}


def test_the_seeds_answered_are_capped_per_group_and_split_spread_over_languages_and_refusals_reask_harmful_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caps = {"harmful": {"train": 9, "validation": 6}, "lookalike": {"train": 9, "validation": 6},
            "plain": {"train": 6, "validation": 3}, "refusal": {"train": 6, "validation": 3}}  # fmt: skip
    monkeypatch.setattr(answer_probe, "GROUPS", caps)
    seeds = probe_seeds(["en", "es", "zh"])
    assert seeds == probe_seeds(["en", "es", "zh"])  # a fixed order
    for group, per_split in caps.items():
        for split, n in per_split.items():
            chosen = [s.record for s in seeds if s.group == group and s.record.split == split]
            assert len(chosen) == n and {r.lang for r in chosen} == {"en", "es", "zh"}
            assert all((r.label == "harmful") is (group in ("harmful", "refusal")) for r in chosen)
            assert all((r.kind == "lookalike") is (group == "lookalike") for r in chosen)
    harmful = [s.record.id for s in seeds if s.group == "harmful"]
    refusal = [s.record.id for s in seeds if s.group == "refusal"]
    assert set(refusal) <= set(harmful)  # the same requests, answered without the ablation
    assert [s.ablated for s in seeds] == [s.group != "refusal" for s in seeds]
    assert len({s.key for s in seeds}) == len(seeds)


def test_the_fit_weighs_harmful_answers_and_the_rest_equally() -> None:
    from rass.mitigate.harm_probe import _logistic

    gen = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(10, 3, generator=gen) + 1.0, torch.randn(90, 3, generator=gen) - 1.0])
    y = torch.tensor([1.0] * 10 + [0.0] * 90)
    balanced = torch.where(y.bool(), 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    _, plain_offset = _logistic(x, y)
    _, balanced_offset = _logistic(x, y, balanced)
    assert balanced_offset > plain_offset  # nine negatives to a positive no longer push the threshold up
    same = _logistic(x, y, torch.ones(100))
    unweighted = _logistic(x, y)
    assert torch.allclose(same[0], unweighted[0]) and same[1] == pytest.approx(unweighted[1])


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Few seeds and short replies, so a fit takes seconds on the tiny model."""
    monkeypatch.setattr(answer_probe, "GROUPS", SMALL)
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
    assert sum(asked) == 36 and probe.layer == LAYER and probe.vector.shape == (chat.hidden_size,)
    stats = probe.stats
    assert stats["answered"] == SMALL_BY_SPLIT
    for split, n in (("train", 24), ("validation", 12)):  # every reply kept but answers the model as is gave
        assert sum(stats["kept"][split].values()) <= n
        assert set(stats["kept"][split]) == {"harmful", "lookalike", "plain", "refusal"}
    assert set(stats["validation"]["flagged"]) == {"harmful", "lookalike", "plain", "refusal"}
    assert stats["site"] == f"resid_pre.{LAYER}" and stats["threshold"] == 0.0 and stats["version"] == 2
    # the refusal group's replies are the model's own; the others were made under ablation
    folder = next(tmp_path.glob(f"answer-probe-*-L{LAYER}"))
    made = {r["key"]: r["reply"] for r in map(json.loads, (folder / "replies.jsonl").read_text().splitlines())}
    seeds = probe_seeds(["en", "es"])
    assert set(made) == {s.key for s in seeds}
    as_is = generate([s.record.text for s in seeds], max_new_tokens=answer_probe.NEW_TOKENS)
    assert all(made[s.key] == a for s, a in zip(seeds, as_is, strict=True) if not s.ablated)
    assert any(made[s.key] != a for s, a in zip(seeds, as_is, strict=True) if s.ablated)
    with chat.ablate(direction):
        assert generate([seeds[0].record.text], max_new_tokens=answer_probe.NEW_TOKENS) == [made[seeds[0].key]]
    # scores are the affine read-out, flags their sign
    prompts, replies = ["How do I sharpen a knife?", "Tell me a joke"], ["Use a whetstone.", "Why did the chicken…"]
    scores = probe.scores(chat, prompts, replies)
    expect = (chat.reply_activations(prompts, replies, LAYER) @ probe.vector + probe.offset).tolist()
    assert scores == pytest.approx(expect) and probe.flags(chat, prompts, replies) == [s > 0 for s in scores]
    # read back: no generation, the same probe
    again = fit_answer_probe(chat, direction, LAYER, ["en", "es"], tmp_path)
    assert sum(asked) == 36 and again.vector.tolist() == probe.vector.tolist() and again.offset == probe.offset
    # another direction is another probe
    fit_answer_probe(chat, -direction, LAYER, ["en", "es"], tmp_path)
    assert sum(asked) == 72


def test_a_refusal_is_a_negative_whatever_was_asked_and_the_model_s_own_answer_to_a_harmful_seed_is_left_out() -> None:
    from rass.data.schema import PromptRecord
    from rass.mitigate.answer_probe import ProbeSeed, _kind

    record = PromptRecord(id="x", text="t", lang="en", label="harmful", split="train")
    for group in ("harmful", "lookalike", "plain", "refusal"):
        assert _kind(ProbeSeed(group, record), refused=True) == "refusal"
    assert _kind(ProbeSeed("harmful", record), refused=False) == "harmful"  # ablated, it complied: the positive
    assert _kind(ProbeSeed("plain", record), refused=False) == "plain"
    assert _kind(ProbeSeed("refusal", record), refused=False) is None


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
    assert sum(asked) == 26 and isinstance(probe, AnswerProbe)


def test_the_check_line_reads_a_version_1_probe_s_stats_as_well() -> None:
    from rass.mitigate.answer_probe import check_line

    old = {"auroc_harmful_vs_lookalike": 0.9973, "flagged_harmful": 0.9512, "flagged_lookalike": 0.1}
    line = check_line({"probe": {"validation": old}, "checked": {"benign": {"read": 9, "flagged": 2}}})
    assert line.startswith("answer check: flagged benign 2 of 9 mitigated replies")
    assert line.endswith("flags 95.1% of harmful answers and 10.0% of look-alike answers)")
