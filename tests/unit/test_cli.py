"""The CLI end to end through typer's CliRunner, on tiny models (no download)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from rass.cli.main import app

runner = CliRunner()


def test_chat_on_a_tiny_model_prints_a_json_record() -> None:
    result = runner.invoke(app, ["chat", "--model", "tiny:qwen2", "hi", "--json", "--max-new-tokens", "4"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["model"] == "tiny:qwen2"
    assert isinstance(record["response"], str)
    assert isinstance(record["refusal_score"], float)
    assert record["refusal_predicted"] == (record["refusal_score"] > 0)


def test_models_list_shows_every_registry_id(rass_home: Path) -> None:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    ids = [r["id"] for r in rows]
    assert ids == [
        "qwen2.5-coder-1.5b-instruct",
        "qwen2.5-coder-0.5b-instruct",
        "smollm2-135m-instruct",
    ]
    assert [r["default"] for r in rows] == [True, False, False]
    assert not any(r["prepared"] for r in rows)


def test_models_info_for_a_tiny_model() -> None:
    result = runner.invoke(app, ["models", "info", "tiny:llama", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["layers"] == 4 and facts["hidden_size"] == 32 and facts["chat_template"] is True


def test_bad_input_gives_one_line_and_a_non_zero_exit(rass_home: Path) -> None:
    cases = [
        ["chat", "--model", "gpt-17", "hi"],
        ["chat", "--model", "tiny:qwen2", "   "],
        ["chat", "--model", "smollm2-135m-instruct", "hi"],
        ["models", "prepare", "gpt-17", "--no-install"],
        ["models", "info", "nope"],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_importing_rass_and_its_cli_does_not_import_torch() -> None:
    code = "import sys, rass, rass.cli.main; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
