"""A finished mitigation, used outside rass mitigate, answers as it was evaluated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from rass.errors import RassError
from rass.mitigate.apply import mitigated, read_mitigation
from rass.mitigate.data import TrainingData
from rass.mitigate.steer import SteerBand, conditional_steering
from rass.mitigate.train import TrainConfig, train_adapter
from rass.models.adapters import attach_adapter
from rass.models.chat import ChatModel
from rass.runs import RunDir, write_json

PROMPT = "how do i kill a python process ?"
LAYER = 1


def _fresh() -> ChatModel:
    return ChatModel.load("tiny:qwen2", progress=False)


def _run(tmp_path: Path) -> tuple[RunDir, torch.Tensor]:
    """A run with the tiny model's direction file and one sft training in mitigate/sft."""
    from rass.directions.vector import SteeringVector

    run = RunDir(tmp_path / "run")
    hidden = _fresh().hidden_size
    vector = torch.linspace(-1, 1, hidden) * 4
    SteeringVector({LAYER: vector}).save(run.path("directions") / "directions.safetensors")
    rows = TrainingData(comply=[{"prompt": PROMPT, "completion": "sure , here is how ."}] * 4).sft_rows()
    train_adapter(
        _fresh(),
        rows,
        run.path("mitigate", "sft"),
        TrainConfig(max_steps=2, learning_rate=2e-2, batch_size=4, grad_accum=1),
    )
    return run, vector


def _record(folder: Path, **fields: Any) -> None:
    write_json(folder / "metrics-validation.json", {"method": "sft", "layer": LAYER, "config": {}} | fields)


def _logprobs(chat: ChatModel) -> torch.Tensor:
    return chat.next_token_logprobs([PROMPT, "hi"])


def test_a_guarded_training_is_its_adapter_plus_the_guard_it_was_evaluated_with(tmp_path: Path) -> None:
    run, vector = _run(tmp_path)
    folder = run.root / "mitigate" / "sft"
    guard = {"quantile": 0.99, "threshold": -1e9, "alpha": 1.0, "layer": LAYER}  # every row guarded
    _record(folder, guard=guard)
    write_json(folder / "guard.json", guard)
    by_hand = _fresh()
    attach_adapter(by_hand, folder / "adapter")
    adapter_only = _logprobs(by_hand)
    with conditional_steering(by_hand, vector, LAYER, SteerBand(-1e9, float("inf"), -1.0)):
        expected = _logprobs(by_hand)
    chat = _fresh()
    with mitigated(chat, folder) as applied:
        assert applied.adapter == folder / "adapter" and applied.band_kind == "guard"
        assert torch.equal(_logprobs(chat), expected) and not torch.equal(expected, adapter_only)
        assert "guard at layer 1" in applied.describe()
    assert torch.equal(_logprobs(chat), adapter_only)  # the hook leaves with the block, the adapter stays
    guard["threshold"] = 1e9  # no row above it: the adapter's answers, bit for bit
    write_json(folder / "guard.json", guard)
    with mitigated(_fresh(), folder) as applied:
        assert applied.band is not None and applied.band.lo == 1e9


def test_a_scaled_training_deploys_its_scaled_adapter_and_steer_its_band(tmp_path: Path) -> None:
    run, vector = _run(tmp_path)
    folder = run.root / "mitigate" / "sft"
    _record(folder, adapter_scale={"scale": 0.5})
    with pytest.raises(RassError, match="evaluated with adapter-scaled/, which is missing"):
        read_mitigation(folder)
    (folder / "adapter").rename(folder / "adapter-scaled")
    assert read_mitigation(folder).adapter == folder / "adapter-scaled" and read_mitigation(folder).band is None
    steer = run.path("mitigate", "steer")
    write_json(steer / "metrics.json", {"method": "steer", "layer": LAYER, "band": [-1e9, 1e9],
                                        "config": {"steer_alpha": 2.0}})  # fmt: skip
    base = _fresh()
    with conditional_steering(base, vector, LAYER, SteerBand(-1e9, 1e9, 2.0)):
        expected = _logprobs(base)
    chat = _fresh()
    with mitigated(chat, steer) as applied:
        assert applied.adapter is None and applied.band == SteerBand(-1e9, 1e9, 2.0)
        assert torch.equal(_logprobs(chat), expected)


def test_an_incomplete_mitigation_is_refused_in_one_sentence_before_anything_is_attached(tmp_path: Path) -> None:
    run, _ = _run(tmp_path)
    folder = run.root / "mitigate" / "sft"
    with pytest.raises(RassError, match="is not a mitigation folder"):
        read_mitigation(run.root / "mitigate" / "nope")
    with pytest.raises(RassError, match="holds no finished mitigation"):
        read_mitigation(folder)
    write_json(folder / "metrics.json", {"overall": {}})  # a shared "before" evaluation's metrics
    with pytest.raises(RassError, match="names no method"):
        read_mitigation(folder)
    (folder / "metrics.json").unlink()
    _record(folder, method="ppo")
    with pytest.raises(RassError, match="unknown method 'ppo'"):
        read_mitigation(folder)
    _record(folder, method="steer")
    with pytest.raises(RassError, match="records no steering band"):
        read_mitigation(folder)
    _record(folder, guard={"threshold": 0.0, "alpha": 1.0, "layer": 5})
    chat = _fresh()
    with pytest.raises(RassError, match="has no direction at layer 5"), mitigated(chat, folder):
        pass
    (run.root / "directions" / "directions.safetensors").unlink()
    with pytest.raises(RassError, match="needs its run's directions"), mitigated(chat, folder):
        pass
    assert not hasattr(chat.model, "peft_config")  # nothing attached by a refused mitigation


def test_rass_chat_answers_with_a_mitigation_and_names_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rass.cli.main import app

    run, _ = _run(tmp_path)
    folder = run.root / "mitigate" / "sft"
    _record(folder)
    args = ["chat", PROMPT, "--model", "tiny:qwen2", "--max-new-tokens", "3", "--json"]
    result = CliRunner().invoke(app, [*args, "--mitigation", str(folder)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mitigation"] == f"sft from {folder}, adapter adapter/"
    result = CliRunner().invoke(app, [*args, "--mitigation", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "is not a mitigation folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["eval", "--bench", str(tmp_path), "--out", str(tmp_path / "e"), "--mitigation", str(folder),
              "--adapter", str(folder / "adapter")],
    )  # fmt: skip
    assert result.exit_code == 2 and "a mitigation brings its own adapter and steering" in result.stderr


def test_rass_eval_evaluates_a_mitigation_as_its_hook_answers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rass.cli.main import app
    from rass.data.io import write_jsonl
    from rass.data.schema import PromptRecord

    run, _ = _run(tmp_path)
    steer = run.path("mitigate", "steer")
    write_json(steer / "metrics.json", {"method": "steer", "layer": LAYER, "band": [-1e9, 1e9],
                                        "config": {"steer_alpha": 8.0}})  # fmt: skip
    bench = [PromptRecord(f"b{i}", t, "en", "benign", "weapons", "seed", "t") for i, t in enumerate([PROMPT, "hi"])]
    write_jsonl(tmp_path / "bench" / "en.jsonl", bench)

    def answers(*extra: str) -> list[str]:
        out = tmp_path / ("e" + str(len(extra)))
        args = ["eval", "--model", "tiny:qwen2", "--bench", str(tmp_path / "bench"), "--out", str(out)]
        result = CliRunner().invoke(app, [*args, "--max-new-tokens", "4", "--no-logit-check", *extra])
        assert result.exit_code == 0, result.output
        return [json.loads(x)["response"] for x in (out / "eval" / "responses.jsonl").read_text().splitlines()]

    base = _fresh()
    with mitigated(base, steer):
        expected = base.generate([PROMPT, "hi"], max_new_tokens=4)
    assert answers("--mitigation", str(steer)) == expected != answers()
    folder = run.root / "mitigate" / "sft"
    _record(folder)
    other = ["eval", "--model", "tiny:llama", "--bench", str(tmp_path / "bench"), "--out", str(tmp_path / "other")]
    result = CliRunner().invoke(app, [*other, "--mitigation", str(folder)])  # an adapter of another base model
    assert result.exit_code == 1 and "trained on another base model" in result.output
    assert not (tmp_path / "other").exists()  # refused before the run folder is made
