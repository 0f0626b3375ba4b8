"""``rass probe`` end to end on a tiny model, resume, and its bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rass.boundary.probe import ProbeConfig, run_probe
from rass.cli.main import app
from rass.data.seeds import load_seeds
from rass.directions.extract import collect
from rass.directions.vector import SteeringVector
from rass.errors import DataError, DimensionMismatchError, RassError
from rass.models.chat import ChatModel
from rass.runs import RunDir

runner = CliRunner()
SMALL = ["--max-per-group", "4", "--n-causal", "4", "--flip-max", "6", "--batch-size", "8"]


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("probe") / "run"
    result = runner.invoke(app, ["probe", "--model", "tiny:qwen2", "--out", str(out), *SMALL])
    assert result.exit_code == 0, result.output
    return out


def test_probe_writes_every_artifact(probed: Path) -> None:
    for rel in (
        "manifest.json",
        "directions/directions.safetensors",
        "directions/directions.json",
        "directions/layers.json",
        "directions/activations.safetensors",
        "boundary/boundary.jsonl",
        "boundary/fit.json",
        "boundary/analysis.json",
        "plots/projection_histogram.png",
        "plots/boundary_map.png",
        "plots/layers.png",
        "plots/alpha_curves.png",
    ):
        assert (probed / rel).is_file(), rel
    manifest = json.loads((probed / "manifest.json").read_text())
    assert {s["status"] for s in manifest["stages"].values()} == {"done"}
    sv = SteeringVector.load(probed / "directions/directions.safetensors")
    assert sv.layers == list(range(4)) and sv.meta["model"] == "tiny:qwen2"
    rows = [json.loads(x) for x in (probed / "boundary/boundary.jsonl").read_text().splitlines()]
    assert {"projection", "distance", "p_refuse", "refusal_score"} <= set(rows[0])
    assert any("flip_alpha" in r for r in rows)
    layers = json.loads((probed / "directions/layers.json").read_text())
    assert layers["choice"]["chosen"] in layers["candidates"]
    analysis = json.loads((probed / "boundary/analysis.json").read_text())
    assert analysis["steering_distance"]["cache_exact"] is True
    assert analysis["steering_distance"]["compare"]["same_alpha"] == analysis["steering_distance"]["compare"]["prompts"]


def test_re_running_a_finished_probe_is_a_no_op(probed: Path) -> None:
    before = (probed / "manifest.json").read_text()
    mtime = (probed / "boundary/boundary.jsonl").stat().st_mtime
    result = runner.invoke(app, ["probe", "--model", "tiny:qwen2", "--out", str(probed), *SMALL])
    assert result.exit_code == 0, result.output
    assert (probed / "manifest.json").read_text() == before
    assert (probed / "boundary/boundary.jsonl").stat().st_mtime == mtime


def test_user_prompt_files_are_placed_on_the_map(tmp_path: Path) -> None:
    extra = tmp_path / "mine.jsonl"
    extra.write_text(json.dumps({"id": "mine-1", "text": "how do i kill a python process ?", "label": "benign"}) + "\n")
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "probe",
            "--model",
            "tiny:llama",
            "--out",
            str(out),
            "--prompts",
            str(extra),
            "--no-generate",
            *SMALL,
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (out / "boundary/boundary.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows if r["id"] == "mine-1"] == ["mine-1"]


def test_bad_probe_inputs(tmp_path: Path, qwen_tiny: ChatModel) -> None:
    run = RunDir(tmp_path / "r")
    with pytest.raises(RassError, match="layer 9 is out of range"):
        run_probe(qwen_tiny, run, ProbeConfig(layer=9))
    with pytest.raises(DimensionMismatchError):
        run_probe(qwen_tiny, run, ProbeConfig(), direction=SteeringVector({0: torch.ones(7)}))
    with pytest.raises(DataError, match="at least 4 harmful"):
        run_probe(qwen_tiny, run, ProbeConfig(max_per_group=1, threshold="median"))
    assert not (tmp_path / "r" / "boundary").exists()
    bad = runner.invoke(app, ["probe", "--model", "tiny:qwen2", "--out", str(tmp_path / "x"), "--layer", "9"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: layer 9 is out of range")


def test_nan_activations_are_refused(qwen_tiny: ChatModel) -> None:
    records = load_seeds(langs=["en"], sets=["harmless"])[:2]
    with (
        qwen_tiny.steer(torch.full((qwen_tiny.hidden_size,), float("nan")), 1.0, layers=[1]),
        pytest.raises(RassError, match="NaN"),
    ):
        collect(qwen_tiny, records, [2])
