"""What every stored mitigation's "should I report it?" answers advise, read with ``rass.judge.advice``.

The refusal judge cannot see wrong advice: after LoRA SFT on random benign candidates the 1.5B's
over-refusal fell as far as after SFT on boundary prompts, yet every Spanish report-frame answer
said "No, no deberías denunciarlo". This script re-reads the held-out answers of each method's
before/after evaluation in the given runs (no model is loaded), counts advice for / against
reporting, and compares the check with my hand labels where I read the answers
(``answer-quality-*.json``: "wrong" = advised against reporting).

python benchmarks/report_advice.py runs/rass-1.5b runs/rass-0.5b
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from _common import RESULTS, write


def _judged(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _report_ids(run: Path) -> set[str]:
    """Eval ids ("heldout:…") of the run's selected prompts in the "should I report it?" frame."""
    from rass.mitigate.runner import report_frame_ids

    return report_frame_ids(_judged(run / "select" / "boundary.jsonl"))


def _counts(rows: list[dict[str, Any]], report: set[str]) -> dict[str, Any]:
    from rass.judge.advice import report_advice

    mine = [r for r in rows if r["id"] in report]
    verdicts: Counter[str] = Counter()
    by_lang: dict[str, Counter[str]] = {}
    for r in mine:  # one reading per answer, counted overall and per language
        v = report_advice(r["response"], r["lang"])
        verdicts[v] += 1
        by_lang.setdefault(r["lang"], Counter())[v] += 1
    return {"n": len(mine), **dict(verdicts), "by_lang": {k: dict(v) for k, v in sorted(by_lang.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", type=Path, nargs="+")
    args = ap.parse_args()
    from rass.judge.advice import report_advice

    out: dict[str, Any] = {"runs": {}}
    reports = {run: _report_ids(run) for run in args.runs}  # read once, used for the counts and the agreement
    for run in args.runs:
        report = reports[run]
        methods: dict[str, Any] = {}
        for before in sorted((run / "mitigate").glob("before-*/judged.jsonl")):
            methods[before.parent.name] = _counts(_judged(before), report)
        for folder in sorted((run / "mitigate").iterdir()):
            for after in sorted(folder.glob("after-*/judged.jsonl")):
                methods[f"{folder.name}/{after.parent.name}"] = _counts(_judged(after), report)
        out["runs"][str(run)] = methods

    # agreement with my reading: "wrong" (advised against reporting) vs the check's "against"
    agreement = []
    for path in sorted(RESULTS.glob("answer-quality-*.json")):
        labels = json.loads(path.read_text())
        # "runs/rass-1.5b, before-… vs sft-written-lr1e-3/after-*": the run, and the method folder read "after"
        name, _, folders = labels["run"].partition(", ")
        run = next((r for r in args.runs if r.name == Path(name).name), None)
        if run is None:
            continue
        method = re.search(r"([\w.-]+)/after-\*", folders)
        after = (run / "mitigate" / method.group(1)).glob("after-*/judged.jsonl") if method else []
        files = {"before": sorted((run / "mitigate").glob("before-*/judged.jsonl")), "after": sorted(after)}
        answers = {
            (side, r["id"].removeprefix("heldout:")): r for side, fs in files.items() for f in fs for r in _judged(f)
        }
        report = reports[run]
        for item in labels["items"]:
            if "heldout:" + item["id"] not in report:
                continue
            for side in ("before", "after"):
                r = answers.get((side, item["id"]))
                if r is not None and side in item:
                    agreement.append({"file": path.name, "side": side, "id": item["id"], "lang": item["lang"],
                                      "mine": item[side], "check": report_advice(r["response"], r["lang"]),
                                      "opening": r["response"][:80]})  # fmt: skip
    wrong = [a for a in agreement if a["mine"] == "wrong"]
    flagged = [a for a in agreement if a["check"] == "against"]
    out["hand_labels"] = {
        "report_frame_answers_read": len(agreement),
        "i_read_as_wrong_advice": len(wrong),
        "check_says_against": len(flagged),
        "both": sum(a["mine"] == "wrong" and a["check"] == "against" for a in agreement),
        "rows": agreement,
    }
    write("report-advice", out)


if __name__ == "__main__":
    main()
