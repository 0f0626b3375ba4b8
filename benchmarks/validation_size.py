"""Does a larger validation split choose differently? The same trainings evaluated at two ``--eval-limit``s.

    python benchmarks/validation_size.py runs/demo --name demo-run

A validation evaluation of a trained folder can be repeated at a larger limit without training again
(``rass mitigate … --train-from FOLDER --eval-limit 48 --name …``). This pairs every training evaluated in
two validation cohorts (matched by its training key and guard threshold) and reports, per cohort, the
rule's ranking of the trainings the cohorts share, each training's counts and exact McNemar p on both, and
whether the items both evaluations read got the same verdicts (the smaller split's items are a subset of
the larger one's; a verdict that differs there is the batch, not the model).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import write

from rass.mitigate.changes import paired_tests
from rass.mitigate.choose import compare, side_counts, validation_results
from rass.runs import read_rows


def _base(item_id: str) -> str:
    """An item's id without the evaluation's prefix: a harmful seed is ``heldout-harm:`` at one limit and
    ``core:`` at a larger one, where MORBench-core takes more of them."""
    return item_id.split(":", 1)[1] if ":" in item_id else item_id


def _verdicts(mitigate: Path, folder: str) -> dict[str, bool]:
    if not (mitigate / folder / "judged.jsonl").is_file():
        raise SystemExit(
            f"no judged answers in {mitigate / folder}: the two evaluations cannot be compared item by item"
        )
    return {_base(r["id"]): bool(r.get("refused")) for r in read_rows(mitigate / folder / "judged.jsonl")}


def _training(result: dict[str, Any]) -> tuple[str, Any] | None:
    key = (result.get("training") or {}).get("key")
    return (key, (result.get("guard") or {}).get("threshold")) if key else None


def _counts(result: dict[str, Any], side: str) -> dict[str, int]:
    return dict(
        zip(("benign_refused", "benign_n", "harmful_refused", "harmful_n"), side_counts(result[side]), strict=True)
    )


def _agreement(a: dict[str, bool], b: dict[str, bool]) -> dict[str, Any]:
    shared = sorted(set(a) & set(b))
    differ = [i for i in shared if a[i] != b[i]]
    return {"shared_items": len(shared), "differ": len(differ), "differ_ids": differ}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", default=None, help="results name (default: the run folder's name)")
    args = ap.parse_args()
    mitigate = args.run / "mitigate"
    cohorts = validation_results(mitigate)
    limits = {b: {r["config"].get("eval_limit") for _, r in rs} for b, rs in cohorts.items()}
    by_training: dict[tuple[str, Any], dict[str, tuple[str, dict[str, Any]]]] = {}
    for before, results in cohorts.items():
        for name, r in results:
            if (t := _training(r)) is not None:
                by_training.setdefault(t, {})[before] = (name, r)
    pairs = {t: seen for t, seen in by_training.items() if len(seen) > 1}
    if not pairs:
        raise SystemExit(f"no training in {mitigate} is evaluated in two validation cohorts")
    befores = sorted({b for seen in pairs.values() for b in seen}, key=lambda b: min(limits[b]))
    trainings = []
    for seen in pairs.values():
        row: dict[str, Any] = {}
        for before in befores:
            if before not in seen:
                continue
            name, r = seen[before]
            row[before] = {"folder": name, "eval_limit": r["config"].get("eval_limit"), "before": _counts(r, "before"),
                           "after": _counts(r, "after"), "paired": paired_tests(r["changes"] or {}),
                           "kl_harmless": r.get("kl_harmless")}  # fmt: skip
        small, large = befores[0], befores[-1]
        if small in seen and large in seen:
            (a, ra), (b, rb) = seen[small], seen[large]
            row["same_items_after"] = _agreement(_verdicts(mitigate, f"{a}/{ra['after_dir']}"),
                                                 _verdicts(mitigate, f"{b}/{rb['after_dir']}"))  # fmt: skip
        trainings.append(row)
    same_before = _agreement(_verdicts(mitigate, befores[0]), _verdicts(mitigate, befores[-1]))
    rankings = {}
    for before in befores:  # the rule on the trainings every compared cohort holds, so the two rank alike sets
        shared = [seen[before] for seen in pairs.values() if all(b in seen for b in befores)]
        ranked = compare(shared)
        rankings[before] = [{"folders": s.folders, "benign_refused": s.benign_refused,
                             "harmful_refused": s.harmful_refused, "harmful_lost": s.harmful_lost,
                             "benign_by_seed": s.benign_by_seed, "harmful_by_seed": s.harmful_by_seed,
                             "eligible": s.eligible} for s in ranked]  # fmt: skip
    for before in befores:
        print(f"cohort {before} (eval_limit {sorted(limits[before])}):")
        for s in rankings[before]:
            print(f"  {'*' if s['eligible'] else ' '} {', '.join(s['folders']):70s} benign {s['benign_refused']:5.2f} "
                  f"{s['benign_by_seed']}  harmful {s['harmful_refused']:5.2f} {s['harmful_by_seed']}")  # fmt: skip
    print(f"before, items both read: {same_before['shared_items']}, verdicts differ on {same_before['differ']}")
    out = write(f"validation-size-{args.name or args.run.name}", {
        "run": str(args.run),
        "cohorts": {b: sorted(limits[b]) for b in befores},
        "rankings": rankings,
        "same_items_before": same_before,
        "trainings": trainings,
    })  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
