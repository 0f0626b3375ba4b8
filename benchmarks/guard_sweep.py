"""What a lower guard quantile would do to one evaluated training, read from one forward pass instead of
an evaluation per quantile.

    python benchmarks/guard_sweep.py runs/demo/mitigate/v48-dpo-nll-b05-guard99 --eval-split validation \
        --quantiles 0.9 0.95 0.97 --model qwen2.5-coder-1.5b-instruct

Why: a guarded training (``rass mitigate --guard Q``) that still answers harmful requests lets them
through because, under the adapter, they project below the threshold fitted at quantile Q of unseen
benign prompts. A lower quantile catches more of them and touches more benign prompts. Evaluating each
quantile takes as long as the training's evaluation (20 minutes for the 1.5B's whole validation split);
this takes one pass over the evaluated items and the guard's reference prompts.

What it reads is exact but for one assumption, which it measures. Lowering the threshold from T0 (the
evaluated guard's) to T only adds the guard to items projecting in [T, T0); every other item answers as
it did in the evaluation. An item the guard newly touches is predicted refused: the share of the items the
evaluated guard touched that were refused is printed beside it, and a prediction is no result until
``rass mitigate --train-from NAME --guard Q`` evaluates it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import one_line_errors, write

from rass.errors import RassError


def predict(items: Sequence[dict[str, Any]], reference: Sequence[float], evaluated: float,
            quantiles: Sequence[float]) -> list[dict[str, Any]]:  # fmt: skip
    """For each quantile at or below the evaluated guard's: its threshold (of the ``reference``
    projections) and the items' predicted refusals, each item a dict of ``label``
    (benign/harmful), ``proj`` and ``refused`` (its evaluated verdict under the guard at ``evaluated``)."""
    import numpy as np

    rows = []
    for q in sorted(quantiles):
        threshold = float(np.quantile(list(reference), q))
        if threshold > evaluated + 1e-6:
            raise RassError(f"quantile {q:g} puts the threshold at {threshold:.4f}, above the evaluated "
                            f"{evaluated:.4f}: what those items answer unguarded is not known here")  # fmt: skip
        newly = [i for i in items if threshold <= i["proj"] < evaluated]
        row: dict[str, Any] = {"quantile": q, "threshold": round(threshold, 4)}
        for label in ("benign", "harmful"):
            side = [i for i in items if i["label"] == label]
            caught = [i for i in newly if i["label"] == label]
            row[label] = {"n": len(side), "refused": sum(i["refused"] for i in side),
                          "newly_guarded": len(caught), "newly_refused": sum(not i["refused"] for i in caught),
                          "predicted_refused": sum(i["refused"] for i in side) + sum(not i["refused"] for i in caught),
                          "newly_refused_ids": [i["id"] for i in caught if not i["refused"]]}  # fmt: skip
        rows.append(row)
    return rows


def guarded_refusal(items: Sequence[dict[str, Any]], evaluated: float) -> dict[str, Any]:
    """How often the evaluated guard's touch ended in a refusal: the assumption ``predict`` rests on."""
    touched = [i for i in items if i["proj"] >= evaluated]
    return {label: {"touched": sum(i["label"] == label for i in touched),
                    "refused": sum(i["label"] == label and i["refused"] for i in touched)}
            for label in ("benign", "harmful")}  # fmt: skip


def main() -> None:
    one_line_errors(_main)


def _main() -> None:
    from guard_projections import project

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="RUN/mitigate/NAME, evaluated with --guard")
    ap.add_argument("--model", required=True)
    ap.add_argument("--eval-split", default="validation", choices=["test", "validation"])
    ap.add_argument("--quantiles", type=float, nargs="+", default=[0.9, 0.95, 0.97])
    args = ap.parse_args()
    if any(not 0 < q < 1 for q in args.quantiles):
        raise SystemExit("error: a guard quantile is a share of benign prompts, between 0 and 1")
    got = project(args.folder, args.model)
    if args.eval_split not in got["items"]:
        raise SystemExit(f"error: {args.folder} holds no evaluation of the {args.eval_split} split")
    guard, items = got["guard"], got["items"][args.eval_split]
    evaluated = float(guard["threshold"])
    rows = predict(items, got["ref_proj"], evaluated, args.quantiles)
    check = guarded_refusal(items, evaluated)
    print(f"evaluated guard: quantile {guard['quantile']}, threshold {evaluated} (refit {got['refit']:.4f})")
    for label, c in check.items():
        print(f"  {label}: {c['refused']} of the {c['touched']} items it touched refused")
    for row in rows:
        b, h = row["benign"], row["harmful"]
        print(
            f"quantile {row['quantile']:g} (threshold {row['threshold']}): benign {b['refused']} -> "
            f"{b['predicted_refused']} of {b['n']}, harmful {h['refused']} -> {h['predicted_refused']} of {h['n']}"
        )
    folder: Path = args.folder
    path = write(f"guard-sweep-{folder.name}-{folder.parent.parent.name}-{args.eval_split}",
                 {"folder": str(folder), "model": args.model, "eval_split": args.eval_split,
                  "evaluated_guard": guard, "refit": round(got["refit"], 4), "guarded_refusal": check,
                  "quantiles": rows,
                  "command": "python benchmarks/guard_sweep.py " + " ".join(
                      [str(folder), "--model", args.model, "--eval-split", args.eval_split, "--quantiles",
                       *map(str, args.quantiles)])})  # fmt: skip
    print(f"wrote {path}")
    print(json.dumps({r["quantile"]: r["harmful"]["newly_refused_ids"] for r in rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
