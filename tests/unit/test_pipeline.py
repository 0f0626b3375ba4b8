"""rass run end to end on a tiny model: every stage, resume after a crash and after kill -9, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rass.cli.main import app
from rass.errors import DataError, RassError
from rass.pipeline import resolve_config

runner = CliRunner()


def _ids(path: Path) -> list[str]:
    return [json.loads(x)["id"] for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []


def test_profiles_and_config_files(tmp_path: Path) -> None:
    cfg = resolve_config("quick")
    assert cfg["model"] == "qwen2.5-coder-0.5b-instruct" and cfg["profile"] == "quick"
    (tmp_path / "c.toml").write_text('model = "tiny:llama"\n[eval]\nlimit = 2\n')
    cfg = resolve_config("default", tmp_path / "c.toml", {"probe": {"langs": ["en"]}})
    assert cfg["model"] == "tiny:llama" and cfg["eval"]["limit"] == 2 and cfg["eval"]["max_new_tokens"] == 48
    assert cfg["probe"]["langs"] == ["en"]
    with pytest.raises(RassError, match="unknown profile"):
        resolve_config("huge")
    (tmp_path / "bad.toml").write_text("[mitigatee]\nx = 1\n")
    with pytest.raises(DataError, match="unknown config section"):
        resolve_config("quick", tmp_path / "bad.toml")


def test_run_on_a_tiny_model_completes_every_stage_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--model", "tiny:qwen2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"directions", "boundary", "plots", "generate", "select", "bench", "eval", "mitigate"} <= set(
        manifest["stages"]
    )
    assert {s["status"] for s in manifest["stages"].values()} == {"done"}
    assert manifest["config"]["model"] == "tiny:qwen2"
    assert "rass run" in result.output and "over-refusal" in result.output  # the summary table
    page = (out / "report.html").read_text()
    for title in ("The safety boundary", "RASS selection", "Evaluation: eval", "data:image/png;base64"):
        assert title in page
    assert (out / "report.md").read_text().startswith("# rass report")
    before = (out / "directions" / "directions.safetensors").stat().st_mtime
    again = runner.invoke(app, ["run", "--model", "tiny:qwen2", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert (out / "directions" / "directions.safetensors").stat().st_mtime == before


def test_kill_9_at_any_point_resumes_without_losses_or_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rass.cli.main", "run", "--model", "tiny:qwen2", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    time.sleep(7)  # somewhere inside the pipeline (it takes ~15 s on 2 CPUs)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s["status"] for s in manifest["stages"].values()} == {"done"}
    for path in (out / "generate" / "candidates.jsonl", out / "eval" / "responses.jsonl"):
        ids = _ids(path)
        assert len(ids) == len(set(ids)), path
    assert len(_ids(out / "eval" / "judged.jsonl")) == len(_ids(out / "eval" / "responses.jsonl"))


def test_report_needs_a_run_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "not a rass run folder" in result.stderr


def test_commands_that_consume_a_run_never_create_one(tmp_path: Path) -> None:
    for args in (["select", "--run", str(tmp_path / "a"), "--model", "tiny:qwen2"],
                 ["mitigate", "--run", str(tmp_path / "b"), "--model", "tiny:qwen2", "--method", "steer"]):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and "not a rass run folder" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
