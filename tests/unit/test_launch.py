"""Under ``accelerate launch``/torchrun every process trains, one builds the data and evaluates;
outside such a launch nothing changes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rass import launch
from rass.data.io import write_jsonl
from rass.models.chat import ChatModel
from rass.runs import read_rows


def test_outside_a_launch_every_helper_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not launch.launched() and launch.is_main()
    launch.wait()
    with launch.main_first():
        pass


def test_a_launch_without_accelerate_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from rass.errors import RassError

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "accelerate", None)  # import fails as if not installed
    with pytest.raises(RassError, match=r"pip install 'rass\[train\]'"):
        launch.is_main()


def test_the_whole_pipeline_refuses_a_multi_process_launch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rass.errors import RassError
    from rass.pipeline import resolve_config, run_pipeline

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RassError, match="under accelerate launch run only the training"):
        run_pipeline(resolve_config("quick"), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_each_launched_process_loads_the_model_on_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from rass.models.spec import _pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert _pick_device("auto") == "cuda"  # one process: device_map="auto" may spread a large model
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert _pick_device("auto") == _pick_device("cuda") == "cuda:3"  # data parallel: a whole copy each
    assert _pick_device("cpu") == "cpu"


def _tiny_run(root: Path) -> Path:
    from rass.boundary.probe import ProbeConfig, run_probe
    from rass.data.seeds import load_seeds
    from rass.generate.rules import mention
    from rass.runs import RunDir

    run = RunDir(root)
    run_probe(ChatModel.load("tiny:qwen2", progress=False), run,
              ProbeConfig(max_per_group=4, n_causal=4, flip_max=4, threshold="median", confirm_generate=False),
              plots=False)  # fmt: skip
    rows = [
        {"id": f"{s.id}-{kind}", "text": text, "lang": s.lang, "category": s.category, "kind": "boundary",
         "label": "benign", "gate": {"accepted": True},
         "meta": {"generator": "rules", "lookalike_type": kind, "mention": s.text}}
        for s in load_seeds(langs=["en", "de"], sets=["harmful"], splits=["train"])[:8]
        for kind, text in mention(s.text, s.lang)
    ]  # fmt: skip
    # rass's quoting frames: their targets are the written answers, no tiny-model text to gate
    write_jsonl(run.root / "select" / "boundary.jsonl", rows)
    return run.root


def test_two_processes_train_data_parallel_and_only_the_main_one_evaluates_and_writes(tmp_path: Path) -> None:
    run = _tiny_run(tmp_path / "run")
    env = {**os.environ, "RASS_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    args = ["mitigate", "--run", str(run), "--model", "tiny:qwen2", "--method", "sft", "--eval-limit", "1",
            "--lookalikes", "0", "--retain", "2", "--gen-batch", "4", "--max-steps", "2"]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "rass.cli.main", "--", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("trained on") == 1  # one report, from the main process
    assert out.stdout.count("changed: harmful requests answered now (refused before): ") == 1
    before = next((run / "mitigate").glob("before-*"))
    ids = [r["id"] for r in read_rows(before / "responses.jsonl")]
    assert ids and len(ids) == len(set(ids))  # answered once, not once per process
    metrics = json.loads((run / "mitigate" / "sft" / "metrics.json").read_text())
    rows = sum(metrics["data"][k] for k in ("comply", "anchors", "retain"))
    first = metrics["training"]["log"][0]
    assert first["epoch"] == pytest.approx(1 / math.ceil(rows / (2 * 4 * 2)))  # a step: 2 processes x 4 x 2 rows
    assert (run / "mitigate" / "sft" / "adapter" / "adapter_model.safetensors").is_file()


def test_only_the_main_process_loads_a_teacher_the_others_key_its_data_by_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import rass.mitigate.runner
    import rass.select.runner
    from rass.cli.main import app
    from rass.errors import RassError
    from rass.mitigate.changes import verdict_changes
    from rass.models.spec import ModelRef, load_model
    from rass.runs import RunDir

    RunDir(tmp_path / "run").save()
    monkeypatch.setattr(rass.select.runner, "probe_artifacts", lambda run: None)
    loaded: list[str] = []
    monkeypatch.setattr(ChatModel, "load", lambda spec, **kw: loaded.append(spec))
    seen: dict[str, object] = {}

    def fake_run(chat: object, run: object, cfg: object, **kw: object) -> dict[str, object]:
        seen.update(kw)
        group = {"over_refusal": None, "harmful_refusal": None}
        side = dict.fromkeys(("heldout_boundary", "morbench_core", "heldout_harmful"), group)
        changes = verdict_changes([], [])  # what the main one prints
        return {"before": side, "after": side, "changes": changes, "kl_harmless": 0.0, "seconds": 1.0}

    monkeypatch.setattr(rass.mitigate.runner, "run_mitigation", fake_run)
    monkeypatch.setattr(launch, "is_main", lambda: False)
    args = ["mitigate", "--run", str(tmp_path / "run"), "--model", "tiny:qwen2", "--teacher", "tiny:llama",
            "--rubric-model", "tiny:qwen2"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert loaded == ["tiny:qwen2"]  # the trained model only
    teacher = seen["teacher"]
    assert isinstance(teacher, ModelRef) and teacher.fingerprint == load_model("tiny:llama").fingerprint
    assert seen["rubric"] == ModelRef.of("tiny:qwen2")
    with pytest.raises(RassError, match="tiny:llama was not loaded in this process"):
        rass.mitigate.runner._loaded(teacher)
    monkeypatch.setattr(launch, "is_main", lambda: True)
    loaded.clear()
    assert CliRunner().invoke(app, args).exit_code == 0 and loaded == ["tiny:qwen2", "tiny:qwen2", "tiny:llama"]
