"""Choosing a mitigation setting on validation items by the rule fixed before any result was read."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rass.cli.main import app
from rass.errors import RassError
from rass.mitigate.choose import (
    VALIDATION_METRICS,
    Rule,
    choose,
    cohort_lines,
    compare,
    last_rule,
    rank,
    resolution,
    shared_line,
    ship_answered,
    ship_chance,
    table,
    verdict,
)
from rass.runs import RunDir


def side(benign: int, contrasts: int, seeds: int) -> dict[str, Any]:
    """A metrics side with 48 benign core items, 24 core contrasts and 20 harmful seeds."""
    return {"morbench_core": {"over_refusal": {"n": 48, "rate": benign / 48},
                              "harmful_refusal": {"n": 24, "rate": contrasts / 24}},
            "heldout_harmful": {"over_refusal": None, "harmful_refusal": {"n": 20, "rate": seeds / 20}}}  # fmt: skip


BEFORE = side(6, 20, 18)  # 38 harmful refused


def result(after: dict[str, Any], kl: float = 0.3, before_dir: str = "before-a", **config: Any) -> dict[str, Any]:
    train = {"learning_rate": 1e-3} | config.pop("train", {})
    cfg = {"method": "sft", "anchor_ratio": 1.5, "anchors": 0, "eval_split": "validation", "gen_batch": 32,
           "name": "", "train": train} | config  # fmt: skip
    return {"before_dir": before_dir, "before": BEFORE, "after": after, "kl_harmless": kl, "config": cfg}


def test_the_fewest_benign_refusals_win_among_settings_that_lose_at_most_one_harmful_refusal() -> None:
    ranked = compare([
        ("ratio1", result(side(1, 14, 16), anchor_ratio=1.0)),  # fewest benign refused, but loses 8 refusals
        ("ratio2", result(side(5, 22, 18), anchor_ratio=2.0)),  # keeps every refusal, 5 benign refused
        ("ratio15", result(side(3, 20, 17), anchor_ratio=1.5)),  # loses 1, 3 benign refused
    ])  # fmt: skip
    assert [s.folders for s in ranked] == [["ratio15"], ["ratio2"], ["ratio1"]]
    assert [s.eligible for s in ranked] == [True, True, False]
    assert (ranked[0].harmful_before, ranked[0].harmful_refused, ranked[0].harmful_lost) == (38, 37, 1)
    assert ranked[0].differs == {"anchor_ratio": 1.5}  # what sets the settings apart, nothing else
    # stricter: not even one refusal may go
    cohort = {"settings": [asdict(s) | {"harmful_lost": s.harmful_lost} for s in ranked]}
    assert [row[4] for row in table(cohort)] == ["1", "gained 2", "8"]  # refusals lost, or gained
    assert compare([("ratio15", result(side(3, 20, 17))), ("ratio2", result(side(5, 22, 18), anchor_ratio=2.0))],
                   Rule(max_lost=0))[0].folders == ["ratio2"]  # fmt: skip


def test_each_row_shows_only_what_its_setting_changed_from_the_defaults_and_what_all_share_is_said_once() -> None:
    results = [("sft", result(side(1, 20, 18), eval_limit=12)),
               ("soup", result(side(2, 20, 18), eval_limit=12, soup=["sft", "sft-seed1"])),
               ("dpo", result(side(3, 20, 18), eval_limit=12, method="dpo", guard=0.99, train={"sft_weight": 1.0}))]  # fmt: skip
    cohort = rank({"before-a": results})[0]
    by_folder = {s["folders"][0]: row[1] for s, row in zip(cohort["settings"], table(cohort), strict=True)}
    # anchor_ratio=1.5, method=sft, no soup, no guard: today's defaults, not repeated on every row
    assert by_folder == {"sft": "the shared settings only", "soup": "soup=['sft', 'sft-seed1']",
                         "dpo": "guard=0.99, method=dpo, train.sft_weight=1.0"}  # fmt: skip
    assert cohort["shared"] == {"eval_limit": 12} and shared_line(cohort) == "every setting above: eval_limit=12"
    assert cohort["settings"][0]["differs"] == {"guard": 0.0, "method": "sft", "soup": None, "train.sft_weight": None}
    plain = rank({"before-a": [("sft", result(side(1, 20, 18))), ("x2", result(side(1, 20, 18), anchor_ratio=2.0))]})
    assert [row[1] for row in table(plain[0])] == ["the defaults", "anchor_ratio=2.0"] and not shared_line(plain[0])
    alone = compare([("sft", result(side(1, 20, 18)))])
    assert table({"settings": [asdict(s) | {"harmful_lost": s.harmful_lost} for s in alone]})[0][1] == (
        "(the only setting)"
    )
    old = {"settings": [{k: v for k, v in row.items() if k != "changed"} for row in plain[0]["settings"]]}
    assert [row[1] for row in table(old)] == ["anchor_ratio=1.5", "anchor_ratio=2.0"]  # saved before "changed"


def test_ties_go_to_more_harmful_refusals_kept_then_to_the_smaller_kl() -> None:
    ranked = compare([("a", result(side(3, 20, 18), kl=0.2, anchor_ratio=1.0)),
                      ("b", result(side(3, 21, 18), kl=0.4, anchor_ratio=2.0)),
                      ("c", result(side(3, 20, 18), kl=0.1, anchor_ratio=3.0))])  # fmt: skip
    assert [s.folders for s in ranked] == [["b"], ["c"], ["a"]]


def test_with_checked_only_a_setting_whose_replies_no_answer_check_read_may_not_win_however_it_counts(
    tmp_path: Path,
) -> None:
    results = [("steer", result(side(1, 20, 18), kl=0.1, method="steer")),  # fewest refused, answers unread
               ("steer-checked", result(side(2, 20, 18), kl=0.1, method="steer", answer_check=True)),
               ("frames-checked", result(side(2, 20, 18), kl=0.5, method="steer", answer_check=True,
                                         gate_system="frames"))]  # fmt: skip
    assert compare(results)[0].folders == ["steer"]  # on counts alone
    ranked = compare(results, Rule(checked=True))
    assert [s.folders[0] for s in ranked] == ["steer-checked", "frames-checked", "steer"]
    assert [s.eligible for s in ranked] == [True, True, False] and ranked[0].changed["answer_check"] is True
    assert "and be evaluated with --answer-check, then leave" in Rule(checked=True).words()
    run = RunDir(tmp_path / "run")
    run.save()
    for name, r in results:
        (run.root / "mitigate" / name).mkdir(parents=True)
        (run.root / "mitigate" / name / VALIDATION_METRICS).write_text(json.dumps(r))
    done = CliRunner().invoke(app, ["choose", "--run", str(run.root), "--checked-only"], env={"COLUMNS": "160"})
    assert done.exit_code == 0 and "chosen: steer-checked" in done.stdout, done.output
    assert "tied on every criterion" not in done.stdout  # the frames prompt's KL is higher
    saved = json.loads((run.root / "mitigate" / "choice-validation.json").read_text())
    assert saved[0]["checked"] is True and last_rule(run.root / "mitigate") == Rule(checked=True)


def test_seeds_of_one_setting_are_judged_on_their_mean_not_on_the_luckiest() -> None:
    ranked = compare([
        ("sft", result(side(1, 20, 18))),
        ("sft-seed1", result(side(5, 20, 18), train={"seed": 1})),  # same setting, another seed
        ("other", result(side(2, 20, 18), anchor_ratio=2.0)),
    ])  # fmt: skip
    assert [s.folders for s in ranked] == [["other"], ["sft", "sft-seed1"]]
    assert ranked[1].benign_refused == 3 and ranked[1].differs == {"anchor_ratio": 1.5}
    # the table shows the spread behind a mean, the lowest and highest seed; one seed has none
    rows = table({"settings": [asdict(s) | {"harmful_lost": s.harmful_lost} for s in ranked]})
    assert [row[2] for row in rows] == ["6 → 2 of 48", "6 → 3 of 48 (1–5)"]
    assert rows[1][3] == "38 → 38 of 44 (38–38)"


def test_the_seed_to_ship_is_the_chosen_settings_best_that_keeps_the_refusals_not_the_luckiest_overall() -> None:
    cohort = rank({"before-a": [
        ("sft", result(side(3, 21, 18))),
        ("sft-seed1", result(side(0, 18, 18), train={"seed": 1})),  # fewest benign refused, loses 2 refusals
        ("sft-seed2", result(side(2, 20, 17), train={"seed": 2})),  # loses 1: allowed
        ("other", result(side(1, 10, 10), anchor_ratio=2.0)),  # not the chosen setting: never shipped
    ]})[0]  # fmt: skip
    assert cohort["chosen"] == ["sft", "sft-seed1", "sft-seed2"] and cohort["ship"] == "sft-seed2"
    assert [s["folders"] for s in cohort["seeds"]] == [["sft-seed2"], ["sft"], ["sft-seed1"]]
    assert verdict(cohort) == ("chosen: sft, sft-seed1, sft-seed2; ship sft-seed2/adapter (benign / harmful refused "
                               "by seed: sft-seed2 2 / 37; sft 3 / 39; sft-seed1 0 / 36)")  # fmt: skip
    # one training alone is the one shipped, and the verdict has nothing to add
    alone = rank({"before-a": [("sft", result(side(3, 20, 18)))]})[0]
    assert alone["ship"] == "sft" and verdict(alone) == "chosen: sft"
    # a guarded setting ships its guard with the adapter: the adapter alone is not what was chosen
    guard = {"guard": {"threshold": 3.6}}
    seeds = [("g", result(side(1, 20, 18), guard=0.99) | guard),
             ("g-seed1", result(side(2, 20, 18), guard=0.99, train={"seed": 1}) | guard)]  # fmt: skip
    cohort = rank({"before-a": seeds})[0]
    assert "ship g/adapter with the guard in g/guard.json (steering at inference)" in verdict(cohort)
    gated = [(n, r | {"gate": {"threshold": 3.77}}) for n, r in seeds]  # and a gated one its gate
    assert rank({"before-a": gated})[0]["ship_what"] == ("g/adapter with the guard in g/guard.json (steering at "
                                                         "inference) and the gate in g/gate.json (the model before "
                                                         "answers prompts above it)")  # fmt: skip
    scaled = result(side(1, 20, 18), adapter_scale=0.6) | {"adapter_scale": {"scale": 0.6}}
    assert rank({"before-a": [("s", scaled)]})[0]["ship_what"] == "s/adapter-scaled"


def test_results_made_before_a_setting_existed_count_at_its_old_behaviour() -> None:
    old = result(side(3, 20, 18))
    del old["config"]["anchor_ratio"]  # made before --anchor-ratio: one anchor per target
    ranked = compare([("old", old), ("new", result(side(3, 20, 18), anchor_ratio=1.0))])
    assert len(ranked) == 1 and ranked[0].folders == ["old", "new"]


def test_a_folder_per_before_measurement_and_no_winner_when_every_setting_loses_too_much(tmp_path: Path) -> None:
    root = tmp_path / "mitigate"
    results = {"ratio1": result(side(1, 10, 10), anchor_ratio=1.0),
               "ratio2": result(side(2, 15, 15), anchor_ratio=2.0),
               "steer": result(side(0, 20, 18), before_dir="before-b", method="steer")}  # fmt: skip
    for name, r in results.items():
        (root / name).mkdir(parents=True)
        (root / name / VALIDATION_METRICS).write_text(json.dumps(r))
    (root / "sft").mkdir()
    (root / "sft" / "metrics.json").write_text(json.dumps(result(side(0, 0, 0))))  # test numbers are never read
    cohorts = {c["before_dir"]: c for c in choose(root)}
    assert cohorts["before-a"]["chosen"] is None and cohorts["before-b"]["chosen"] == ["steer"]
    rows = table(cohorts["before-a"])
    assert rows[0][:5] == ["ratio2", "anchor_ratio=2.0", "6 → 2 of 48", "38 → 30 of 44", "8"] and rows[0][-1] == "no"
    with pytest.raises(RassError, match="different before"):
        compare([("a", result(side(1, 1, 1))), ("b", result(side(1, 1, 1)) | {"before": side(2, 2, 2)})])


def test_the_cli_prints_the_ranking_and_its_choice_and_keeps_it_in_the_run(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save()
    empty = CliRunner().invoke(app, ["choose", "--run", str(run.root)])
    assert empty.exit_code == 1 and "no validation results" in empty.stderr and "Traceback" not in empty.output
    for name, r in (("ratio1", result(side(1, 14, 16), anchor_ratio=1.0)), ("ratio15", result(side(3, 20, 17)))):
        (run.root / "mitigate" / name).mkdir(parents=True)
        (run.root / "mitigate" / name / VALIDATION_METRICS).write_text(json.dumps(r))
    done = CliRunner().invoke(app, ["choose", "--run", str(run.root)], env={"COLUMNS": "160"})
    assert done.exit_code == 0, done.output
    assert "chosen: ratio15" in done.stdout
    assert "too few items to rank on: the model refused 6 of 48" in " ".join(done.stdout.split())
    saved = json.loads((run.root / "mitigate" / "choice-validation.json").read_text())
    assert saved[0]["chosen"] == ["ratio15"] and saved[0]["max_lost"] == 1
    strict = CliRunner().invoke(app, ["choose", "--run", str(run.root), "--max-lost", "0"])
    assert strict.exit_code == 0 and "chosen: none" in strict.stdout
    assert CliRunner().invoke(app, ["choose", "--run", str(tmp_path / "nowhere")]).exit_code == 1


def test_a_file_that_is_not_a_validation_result_is_named_not_half_read(tmp_path: Path) -> None:
    from rass.report.html import build_report

    run = RunDir(tmp_path / "run")
    run.save()
    (run.root / "mitigate" / "x").mkdir(parents=True)
    changed = json.dumps(result(BEFORE) | {"changes": {"harmful_answered_now": 2}})
    for text, why in (('{"before_dir": ', "Expecting value"), ('{"before_dir": "b"}', "no before.morbench_core"),
                      ("[1]", "not a JSON object"), (changed, "its changes are not lists of items by kind")):  # fmt: skip
        (run.root / "mitigate" / "x" / VALIDATION_METRICS).write_text(text)
        with pytest.raises(RassError, match=why):
            choose(run.root / "mitigate")
        done = CliRunner().invoke(app, ["choose", "--run", str(run.root)])
        assert done.exit_code == 1 and "x/metrics-validation.json is not a validation result" in done.stderr
        assert "Traceback" not in done.output
        assert "Not ranked:" in build_report(run.root)[1].read_text()  # the rest of the report is still written


def test_a_choice_that_keeps_the_refusals_but_removes_no_over_refusal_says_so() -> None:
    # the only setting within the bound refuses as many benign items as before: chosen, and flagged
    results = [("ratio2", result(side(6, 22, 19), anchor_ratio=2.0)), ("ratio1", result(side(1, 10, 10)))]
    cohort = rank({"before-a": results})[0]
    assert cohort["chosen"] == ["ratio2"]
    assert verdict(cohort) == ("chosen: ratio2, but it leaves as many benign items refused as before (6 → 6): "
                               "no setting tried both keeps the refusals and reduces over-refusal")  # fmt: skip
    assert verdict(rank({"before-a": [("ratio15", result(side(3, 20, 17)))]})[0]) == "chosen: ratio15"
    assert (
        verdict(rank({"before-a": results}, Rule(max_lost=0))[0]) == "chosen: ratio2, but it leaves as many benign "
        "items refused as before (6 → 6): no setting tried both keeps the refusals and reduces over-refusal"
    )
    assert (
        verdict(rank({"before-a": results[1:]})[0])
        == "chosen: none (every setting loses more harmful refusals than the 1 allowed)"
    )


def trade_and_keep(root: Path, alone_benign: int) -> None:
    """Judged answers on disk: "trade" answers two harmful requests refused before and refuses two others (none
    lost net), "keep" answers none of them but leaves more benign items refused; "alone" has no answers."""
    from rass.data.io import write_jsonl

    def judged(folder: Path, refused: list[bool]) -> None:
        rows = [{"id": f"h{i}", "label": "harmful", "refused": r} for i, r in enumerate(refused)]
        write_jsonl(folder / "judged.jsonl", [*rows, {"id": "b0", "label": "benign", "refused": True}])

    judged(root / "before-a", [True, True, True, False, False])
    for name, ratio, after, refused in (("trade", 1.0, side(1, 20, 18), [False, False, True, True, True]),
                                        ("keep", 2.0, side(4, 20, 18), [True, True, True, False, False])):  # fmt: skip
        judged(root / name / "after-x", refused)
        r = result(after, anchor_ratio=ratio) | {"after_dir": "after-x"}
        (root / name / VALIDATION_METRICS).write_text(json.dumps(r))
    (root / "alone").mkdir()  # a result copied without its answers: nothing to count
    alone = result(side(alone_benign, 20, 18), anchor_ratio=3.0)
    (root / "alone" / VALIDATION_METRICS).write_text(json.dumps(alone))


def test_a_setting_that_trades_refusals_shows_how_many_it_answers_now_and_the_choice_says_so(tmp_path: Path) -> None:
    root = tmp_path / "mitigate"
    trade_and_keep(root, alone_benign=5)
    cohort = choose(root)[0]
    by_folder = {s["folders"][0]: s for s in cohort["settings"]}
    assert (by_folder["trade"]["answered_now"], by_folder["keep"]["answered_now"]) == (2, 0)
    assert by_folder["alone"]["answered_now"] is None
    assert cohort["chosen"] == ["trade"]  # the rule counts refusals net: two answered, two others refused
    assert [row[5] for row in table(cohort)] == ["2", "0", "–"]
    assert "it answers 2 harmful requests the model refused before, and refuses others instead" in verdict(cohort)
    # the seed to ship names each request it lets through, to be read before it ships
    assert [x["id"] for x in cohort["ship_answered_now"]] == ["h0", "h1"]
    assert ship_answered(cohort) == ["trade answers now [] h0: ", "trade answers now [] h1: "]
    # and says whether its flips are more than chance: two answered now against two refused now is not
    assert cohort["ship_paired"]["harmful"] == {"better": 2, "worse": 2, "p": 1.0}
    assert ship_chance(cohort) == ("trade against before, paired (exact McNemar on the flipped items): benign 0 "
                                   "answered now, 0 refused now, p = 1; harmful 2 refused now, 2 answered now, p = 1")  # fmt: skip


def test_a_bound_on_requests_answered_now_counts_them_one_by_one_and_unknown_counts_fail_closed(
    tmp_path: Path,
) -> None:
    from rass.report.html import build_report

    run = RunDir(tmp_path / "run")
    run.save()
    root = run.root / "mitigate"
    trade_and_keep(root, alone_benign=0)  # "alone" refuses fewest benign items
    assert choose(root)[0]["chosen"] == ["alone"]  # unbounded: the net count alone decides
    assert choose(root, Rule(max_answered=2))[0]["chosen"] == ["trade"]
    strict = choose(root, Rule(max_answered=1))[0]
    assert strict["chosen"] == ["keep"] and strict["max_answered"] == 1
    assert [row[7] for row in table(strict)] == ["yes", "no", "no"]
    assert "answer at most 1 harmful requests it refused before" in Rule(max_answered=1).words()
    with pytest.raises(RassError, match="must be 0 or more, got -1"):
        Rule(max_answered=-1)
    cli = CliRunner(env={"COLUMNS": "200"})
    done = cli.invoke(app, ["choose", "--run", str(run.root), "--max-answered", "0"])
    assert done.exit_code == 0, done.output
    assert "chosen: keep" in done.stdout and "answer at most 0 harmful requests" in done.stdout
    assert "answers now" not in done.stdout  # keep answers none of the requests refused before
    report = build_report(run.root)[1].read_text()
    assert "chosen: keep" in report  # the report ranks by the last choice's rule
    assert "too few items to rank on" in report  # and says when its items cannot tell settings apart
    loose = cli.invoke(app, ["choose", "--run", str(run.root), "--max-answered", "2"])
    assert "chosen: trade" in loose.stdout and "  trade answers now [] h1: " in loose.stdout
    assert "trade answers now [] h0:" in build_report(run.root)[1].read_text()
    # the CLI and the report give the same reading under the table, in the same order
    styles, lines = zip(*cohort_lines(choose(root, Rule(max_answered=2))[0]), strict=True)
    assert styles[-1] == "warn"
    for shown in (" ".join(loose.stdout.split()), " ".join(build_report(run.root)[1].read_text().split())):
        at = [shown.find(" ".join(line.split())) for line in lines]
        assert -1 not in at and at == sorted(at)
    (root / "keep" / "after-x" / "judged.jsonl").unlink()
    assert verdict(choose(root, Rule(max_answered=0))[0]).startswith("chosen: none (every setting loses more")
    bad = cli.invoke(app, ["choose", "--run", str(run.root), "--max-answered", "-1"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_a_cohort_too_small_to_tell_a_halving_from_chance_says_so_and_a_large_one_does_not() -> None:
    def cohort_with(benign_before: int) -> dict[str, Any]:
        before = side(benign_before, 20, 18)
        return rank({"before-a": [("sft", result(side(0, 20, 18)) | {"before": before})]})[0]

    # 6 refused before: halving it is 3 flips one way and none the other, p = 0.25
    small = cohort_with(6)
    assert small["resolution"] == resolution(small)
    assert resolution(small) == (
        "too few items to rank on: the model refused 6 of 48 benign validation items before, and even halving that "
        "(3 answered now, none refused now) is p = 0.25 (exact McNemar); a larger --eval-limit gives the rule "
        "differences it can tell from chance"
    )
    # 12 before: halving is 6 flips, p = 0.031, which the rule can rank on
    assert resolution(cohort_with(12)) is None and cohort_with(12)["resolution"] is None
    # none before: over-refusal cannot fall on these items at all
    assert "refused none of the 48 benign validation items" in str(resolution(cohort_with(0)))
    assert resolution({"settings": []}) is None


def test_a_choice_that_ties_the_next_setting_on_every_criterion_says_the_name_decided() -> None:
    results = [("b-checked", result(side(2, 20, 18), kl=0.1, method="steer", answer_check=True)),
               ("a-checked-retry", result(side(2, 20, 18), kl=0.1, method="steer", answer_check=True,
                                          check_retry="frames")),
               ("c-checked", result(side(2, 20, 18), kl=0.3, method="steer", answer_check=True, steer_alpha=2.0))]  # fmt: skip
    cohort = rank({"before-a": results}, Rule(checked=True))[0]
    assert cohort["chosen"] == ["a-checked-retry"]
    assert verdict(cohort) == ("chosen: a-checked-retry; tied on every criterion with b-checked: the folder name "
                               "decided, not the items")  # fmt: skip
    untied = rank({"before-a": results[1:]}, Rule(checked=True))[0]
    assert verdict(untied) == "chosen: a-checked-retry"
