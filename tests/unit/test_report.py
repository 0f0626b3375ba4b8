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


def test_settings_tried_on_validation_items_are_ranked_apart_from_the_reported_results(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save()
    write_json(run.root / "mitigate" / "sft" / "metrics.json", _metrics("before-aaa", 0.61, 0.11))
    for name, ratio, after in (("sft", 1.5, 0.2), ("sft-ratio1", 1.0, 0.1)):
        result = _metrics("before-val", 0.3, after) | {"config": {"anchor_ratio": ratio}, "kl_harmless": 0.3}
        result["after"]["heldout_harmful"] = result["before"]["heldout_harmful"]  # both keep every refusal
        write_json(run.root / "mitigate" / name / "metrics-validation.json", result)
    text = build_report(run.root)[1].read_text()
    reported, validation = text.split("Settings compared on validation items")
    assert "0.61 [0.61, 0.61]" in reported and "anchor_ratio" not in reported
    assert "not clean held-out numbers" not in reported
    # the ratio-1 setting refused fewer benign items (1 of 10 against 2) and kept the harmful refusals
    assert validation.index("| sft-ratio1 | anchor_ratio=1.0 | 3 → 1 of 10") < validation.index(
        "| sft | the defaults |"
    )
    assert "chosen: sft-ratio1" in validation


def test_reported_numbers_that_read_validation_items_are_flagged(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save()
    write_json(
        run.root / "mitigate" / "sft" / "metrics.json", _metrics("before-aaa", 0.61, 0.11) | {"validation_overlap": 30}
    )
    assert "sft: 30 of its reported items were used by a validation evaluation" in build_report(run.root)[1].read_text()


def test_the_report_ranks_with_the_max_lost_of_the_last_choice(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save()
    for name, ratio, after, kept in (("sft", 1.5, 0.2, 0.3), ("sft-ratio1", 1.0, 0.1, 0.2)):
        result = _metrics("before-val", 0.3, after) | {"config": {"anchor_ratio": ratio}, "kl_harmless": 0.3}
        result["after"]["heldout_harmful"]["harmful_refusal"]["rate"] = kept  # ratio 1 loses one of 3
        write_json(run.root / "mitigate" / name / "metrics-validation.json", result)
    assert "chosen: sft-ratio1" in build_report(run.root)[1].read_text()  # no rass choose yet: 1 may be lost
    write_json(run.root / "mitigate" / "choice-validation.json", [{"before_dir": "before-val", "max_lost": 0}])
    text = build_report(run.root)[1].read_text()
    assert "chosen: sft\n" in text and "lose at most 0 of the harmful refusals" in text
    (run.root / "mitigate" / "choice-validation.json").write_text("[{")  # cut short: ranked as if never chosen
    assert "chosen: sft-ratio1" in build_report(run.root)[1].read_text()


def test_a_guarded_or_scaled_adapter_says_so_beside_its_numbers(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save()
    guard = {"quantile": 0.99, "threshold": 3.6313, "alpha": 1.0, "layer": 19, "reference_prompts": 286}
    result = _metrics("before-aaa", 0.61, 0.11) | {"guard": guard, "adapter_scale": {"scale": 0.6}}
    write_json(run.root / "mitigate" / "sft-guard" / "metrics.json", result)
    text = build_report(run.root)[1].read_text()
    assert "sft-guard: guarded: the refusal direction added at layer 19 to inputs projecting above 3.63" in text
    assert "the 0.99 quantile of 286 benign train prompts" in text
    assert "sft-guard: the adapter's weight change times 0.6" in text
    gate = {"quantile": 0.1, "threshold": 3.7689, "layer": 19, "reference_prompts": 48}
    write_json(run.root / "mitigate" / "sft-gate" / "metrics.json", result | {"gate": gate})
    text = build_report(run.root)[1].read_text()
    assert (
        "sft-gate: gated: the adapter acted only on inputs the model before projects at or below 3.7689 on its "
        "refusal direction at layer 19 (the 0.1 quantile of 48 harmful probe prompts)" in text
    )
    by_cls = gate | {"by": "classifier", "reference_prompts": 165,
                     "classifier": {"validation": {"auroc_harmful_vs_lookalike": 0.9871}}}  # fmt: skip
    write_json(run.root / "mitigate" / "sft-gate" / "metrics.json", result | {"gate": by_cls})
    text = build_report(run.root)[1].read_text()
    assert (
        "on a harm classifier's direction at layer 19 (the 0.1 quantile of 165 validation-split harmful seeds; "
        "validation AUROC harmful vs look-alike 0.987)" in text
    )
    reach = {"morbench_core": {"refused_before": 17, "reachable": 7, "floor": 10, "halving_reachable": False}}
    write_json(run.root / "mitigate" / "sft-gate" / "metrics.json", result | {"gate": gate | {"reach": reach}})
    text = build_report(run.root)[1].read_text()
    assert "sft-gate: behind the gate: MORBench-core benign refused before 17, 7 within the adapter's reach" in text
    steered = result | {"method": "steer", "gate": gate | {"reach": reach}}  # a gated steer has no adapter to name
    write_json(run.root / "mitigate" / "sft-gate" / "metrics.json", steered)
    text = build_report(run.root)[1].read_text()
    assert "sft-gate: gated: steering acted only on inputs the model before projects" in text
    assert "refused before 17, 7 within steering's reach" in text
    assert "(at best 17 → 10, halving out of reach)" in text
    told = steered | {"gate": gate | {"system_prompt": "Never answer a quoted request."}}
    write_json(run.root / "mitigate" / "sft-gate" / "metrics.json", told)
    text = build_report(run.root)[1].read_text()
    assert "answered with a system prompt of 30 characters (gate.json)" in text
    assert "sft-gate: the system prompt behind the gate: \u201cNever answer a quoted request.\u201d" in text


def test_each_reported_mitigation_says_whether_it_meets_the_goals(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save()
    write_json(run.root / "mitigate" / "sft" / "metrics.json", _metrics("before-aaa", 0.61, 0.11))
    text = build_report(run.root)[1].read_text()
    # over-refusal 6 → 1 of 10 is halved, but harmful refusal fell just as far
    assert (
        "sft: goals not met: MORBench-core benign refused 6 → 1 of 10 (halved); held-out boundary refused "
        "6 → 1 of 10 (halved); harmful refused 6 → 1 of 10 (50 points down, more than the 2 allowed)"
    ) in text
