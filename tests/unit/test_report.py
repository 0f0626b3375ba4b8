"""The report: mitigation results are compared only against the "before" they were measured with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rass.report.html import build_report
from rass.runs import RunDir, write_json


def _metrics(before_dir: str, before_rate: float, after_rate: float) -> dict[str, Any]:
    def m(rate: float) -> dict[str, Any]:
        return {"rate": rate, "ci95": [rate, rate], "n": 10}

    def side(rate: float) -> dict[str, Any]:
        groups = {g: {k: m(rate)} for g, k in (("heldout_boundary", "over_refusal"),
                  ("morbench_core", "over_refusal"), ("heldout_harmful", "harmful_refusal"))}  # fmt: skip
        return {**groups, "core_by_lang": {"en": {"over_refusal": m(rate)}}}

    return {"before_dir": before_dir, "before": side(before_rate), "after": side(after_rate), "seconds": 1.0}


def test_methods_with_different_before_measurements_get_their_own_baseline(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save()
    write_json(run.root / "mitigate" / "sft" / "metrics.json", _metrics("before-aaa", 0.61, 0.11))
    write_json(run.root / "mitigate" / "steer" / "metrics.json", _metrics("before-bbb", 0.26, 0.05))
    write_json(run.root / "mitigate" / "dpo" / "metrics.json", _metrics("before-aaa", 0.61, 0.30))
    _, md = build_report(run.root)
    text = md.read_text()
    first, second = text.split("Against the before measurement before-aaa")[1].split(
        "Against the before measurement before-bbb"
    )
    assert "0.61 [0.61, 0.61]" in first and "0.30" in first and "0.26" not in first  # sft and dpo share one
    assert "0.26 [0.26, 0.26]" in second and "0.61" not in second
