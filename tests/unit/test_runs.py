"""The run folder's manifest: stage status and timing survive a failure and a resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from rass.runs import RunDir


def test_a_resumed_stage_reports_the_time_of_every_attempt(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt), run.stage("eval", {"limit": 4}):
        raise KeyboardInterrupt
    first = run.manifest["stages"]["eval"]
    assert first["status"] == "failed"
    first["seconds"] = 30.0  # pretend the interrupted attempt ran half a minute
    with run.stage("eval", {"limit": 4}):
        pass
    entry = RunDir(tmp_path / "run").manifest["stages"]["eval"]
    assert entry["status"] == "done" and entry["attempts"] == 2 and 30.0 <= entry["seconds"] < 31.0
    with run.stage("eval", {"limit": 8}):  # another config starts the clock afresh
        pass
    assert run.manifest["stages"]["eval"]["seconds"] < 1.0


def test_run_rows_skip_a_line_cut_by_a_kill_and_a_missing_file_is_empty(tmp_path: Path) -> None:
    from rass.runs import read_json_if, read_rows

    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": "a"}\n\n{"id": "b"}\n{"id": "c", "te', encoding="utf-8")
    assert [r["id"] for r in read_rows(path)] == ["a", "b"]
    assert read_rows(tmp_path / "missing.jsonl") == [] and read_json_if(tmp_path / "missing.json") is None


def test_a_setting_added_later_leaves_keys_made_before_it_unchanged_at_its_old_behaviour() -> None:
    from rass.runs import content_key, stable_fields

    before = {"method": "sft", "seed": 0}
    later = {"split": "test"}  # the value that behaves as before the setting existed
    assert content_key(stable_fields(before | {"split": "test"}, later)) == content_key(before)
    assert content_key(stable_fields(before | {"split": "validation"}, later)) != content_key(before)
