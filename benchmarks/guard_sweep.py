"""What a lower guard quantile would do to one evaluated training, read from one forward pass instead of
an evaluation per quantile.

    python benchmarks/guard_sweep.py runs/demo v48-dpo-nll-b05-guard99 --eval-split validation \
        --quantiles 0.9 0.95 0.97 --name demo-run

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

from _common import write

from rass.errors import RassError


def predict(items: Sequence[dict[str, Any]], reference: Sequence[float], evaluated: float,
            quantiles: Sequence[float]) -> list[dict[str, Any]]:  # fmt: skip
    """For each quantile at or below the evaluated guard's: its threshold (of the ``reference``
    projections) and the items' predicted refusals, each item a dict of ``label``
    (benign/harmful), ``proj`` and ``refused`` (its evaluated verdict under the guard at ``evaluated``)."""
    import torch

    ref = torch.tensor(list(reference), dtype=torch.float64)
    rows = []
    for q in sorted(quantiles):
        threshold = float(torch.quantile(ref, q))
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
    try:
        _main()
    except RassError as exc:  # a wrong run, folder or quantile: one line, no traceback
        raise SystemExit(f"error: {exc}") from None


def _main() -> None:
    from ensemble_eval import _member

    from rass.directions.vector import SteeringVector
    from rass.mitigate.config import MitigateConfig
    from rass.mitigate.guard import guard_reference
    from rass.mitigate.runner import split_boundary
    from rass.mitigate.soup import member_trained_ids
    from rass.models.adapters import attach_adapter
    from rass.models.chat import ChatModel
    from rass.runs import RunDir, read_rows

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("member", help="a guarded, evaluated training's folder in RUN/mitigate/")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--eval-split", default="validation", choices=["test", "validation"])
    ap.add_argument("--quantiles", type=float, nargs="+", default=[0.9, 0.95, 0.97])
    ap.add_argument("--name", default=None, help="results name (default: the run folder's name)")
    args = ap.parse_args()
    if any(not 0 < q < 1 for q in args.quantiles):
        raise SystemExit("error: a guard quantile is a share of benign prompts, between 0 and 1")
    m = _member(args.run, args.member, args.eval_split)
    record, guard = m["record"], m["guard"]
    if guard is None:
        raise SystemExit(f"error: {m['folder']} was evaluated without a guard: nothing to lower")
    if record["config"].get("eval_split", "test") != args.eval_split:
        raise SystemExit(f"error: {m['folder']}'s metrics are of another split than {args.eval_split}")
    run = RunDir(args.run)
    layer, evaluated = int(guard["layer"]), float(guard["threshold"])
    direction = SteeringVector.load(args.run / "directions" / "directions.safetensors").layer_vectors[layer]
    unit = direction / direction.norm()
    train_rows, held, _ = split_boundary(run, MitigateConfig(eval_split=args.eval_split))
    langs = sorted({r["lang"] for r in train_rows + held} | {"en"})
    reference = guard_reference(langs, member_trained_ids(run, [args.member]))
    if len(reference) != guard["reference_prompts"]:
        raise SystemExit(f"error: {len(reference)} reference prompts now, {guard['reference_prompts']} when the "
                         "guard was fitted: the seeds or the training rows changed")  # fmt: skip
    judged = read_rows(m["folder"] / record["after_dir"] / "judged.jsonl")
    chat = ChatModel.load(args.model)
    attach_adapter(chat, m["folder"] / "adapter")
    site = f"resid_pre.{layer}"

    def project(prompts: Sequence[str]) -> list[float]:
        acts = chat.forward(list(prompts), sites=[site]).activations[site].float()
        return (acts @ unit.float()).tolist()

    ref_proj = project(reference)
    refit = predict([], ref_proj, float("inf"), [guard["quantile"]])[0]["threshold"]
    if abs(refit - evaluated) > 1e-3 * max(1.0, abs(evaluated)):
        raise SystemExit(f"error: the reference puts quantile {guard['quantile']} at {refit}, the guard was "
                         f"fitted at {evaluated}: another adapter or model than the evaluated one")  # fmt: skip
    items = [{"id": r["id"], "lang": r["lang"], "label": r["label"], "refused": bool(r["refused"]), "proj": p}
             for r, p in zip(judged, project([r["prompt"] for r in judged]), strict=True)]  # fmt: skip
    rows = predict(items, ref_proj, evaluated, args.quantiles)
    check = guarded_refusal(items, evaluated)
    print(f"evaluated guard: quantile {guard['quantile']}, threshold {evaluated} (refit {refit})")
    for label, c in check.items():
        print(f"  {label}: {c['refused']} of the {c['touched']} items it touched refused")
    for row in rows:
        b, h = row["benign"], row["harmful"]
        print(
            f"quantile {row['quantile']:g} (threshold {row['threshold']}): benign {b['refused']} -> "
            f"{b['predicted_refused']} of {b['n']}, harmful {h['refused']} -> {h['predicted_refused']} of {h['n']}"
        )
    path = write(f"guard-sweep-{args.member}-{args.name or args.run.name}-{args.eval_split}",
                 {"run": str(args.run), "member": args.member, "eval_split": args.eval_split,
                  "eval_limit": record["config"].get("eval_limit"), "evaluated_guard": guard, "refit": refit,
                  "guarded_refusal": check, "quantiles": rows,
                  "command": "python benchmarks/guard_sweep.py " + " ".join(
                      [str(args.run), args.member, "--eval-split", args.eval_split, "--quantiles",
                       *map(str, args.quantiles)])})  # fmt: skip
    print(f"wrote {path}")
    print(json.dumps({r["quantile"]: r["harmful"]["newly_refused_ids"] for r in rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
