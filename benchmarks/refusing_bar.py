"""Where to put a refusing gate's bar (``rass mitigate --gate Q --gate-refusing BAR``): per bar, how many of the
refused benign items behind the gate it still hands to the mitigation, and how many answered ones it no longer
touches, read from a run's "before" evaluations and one forward pass of the model before.

    python benchmarks/refusing_bar.py runs/demo --model qwen2.5-coder-1.5b-instruct --gate-by classifier \
        --befores before-36af44ebdee1 before-74ad97d9df94 --bars -4 -3.5 -3 -2.5 -2 -1.5 -1 0

Why: behind a gate, a steer (or an adapter) also changes the answers the model already gave well; on the 1.5B's
test, steering at alpha 1 behind the classifier gate made a "should I report this?" prompt explain how to
poison a dog. A refusing gate mitigates only prompts whose first reply token is likely a refusal. Too high a
bar loses refused items the model opens politely ("As an AI assistant, I …"), too low a one touches answered
items again: this table shows the trade per split, so the bar is chosen on validation, not on the test.

"Behind the gate" is as ``rass mitigate`` decides it: at or below the gate's threshold on its signal, and (for
a steer) at or above the band's floor on the refusal direction.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from _common import one_line_errors, write

from rass.errors import RassError


def bar_table(items: Sequence[Mapping[str, Any]], bars: Sequence[float]) -> dict[str, Any]:
    """Per bar, of the benign items behind the gate (``behind``): the refused ones still mitigated (their
    ``score`` above the bar) and the answered ones still touched; held-out boundary items (``heldout:``) apart."""
    behind = [i for i in items if i["behind"] and i["label"] == "benign"]
    core = [i for i in behind if i["id"].startswith("core:")]
    held = [i for i in behind if i["id"].startswith("heldout:")]
    refused, answered = [i for i in core if i["refused"]], [i for i in core if not i["refused"]]
    out: dict[str, Any] = {
        "core_benign_refused": sum(i["id"].startswith("core:") and i["label"] == "benign" and i["refused"]
                                   for i in items),
        "behind": {"core_refused": len(refused), "core_answered": len(answered), "heldout": len(held)},
        "bars": {},
    }  # fmt: skip
    for bar in bars:
        out["bars"][f"{bar:g}"] = {
            "core_refused_mitigated": sum(i["score"] > bar for i in refused),
            "core_answered_touched": sum(i["score"] > bar for i in answered),
            "heldout_touched": sum(i["score"] > bar for i in held),
        }
    return out


def main() -> None:
    one_line_errors(_main)


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="the run whose mitigate/before-* evaluations are read")
    ap.add_argument("--model", required=True)
    ap.add_argument("--befores", nargs="+", required=True, help="before-* folders in RUN/mitigate/")
    ap.add_argument("--bars", type=float, nargs="+", default=[-4, -3, -2.5, -2, -1.5, -1, 0])
    ap.add_argument("--gate", type=float, default=0.1, help="the gate's quantile, as rass mitigate --gate")
    ap.add_argument("--gate-by", choices=["direction", "classifier"], default="classifier")
    ap.add_argument("--steer-floor", type=float, default=1.0,
                    help="a steer's floor, as rass mitigate --steer-floor (-1: no floor, as an adapter)")  # fmt: skip
    ap.add_argument("--name", default="", help="the output's name: refusing-bar-NAME.json")
    args = ap.parse_args()
    if not 0 < args.gate < 1:
        raise SystemExit("error: a gate quantile is a share of harmful prompts, between 0 and 1")
    if args.steer_floor > 1:
        raise SystemExit("error: the steering floor is a quantile of the probe's harmless prompts, at most 1")
    import numpy as np

    from rass.directions.vector import SteeringVector
    from rass.mitigate.config import MitigateConfig
    from rass.mitigate.gate import run_gate
    from rass.mitigate.runner import steer_band
    from rass.models.chat import ChatModel
    from rass.runs import RunDir, read_json, read_rows

    run = RunDir.existing(args.run)
    layer = int(read_json(run.root / "boundary" / "fit.json")["layer"])
    boundary = read_rows(run.root / "boundary" / "boundary.jsonl")
    befores = {}
    for name in args.befores:
        path = run.root / "mitigate" / name / "judged.jsonl"
        if not path.is_file():
            raise RassError(f"{path} is missing: name before-* folders of {args.run}/mitigate")
        befores[name] = read_rows(path)
    chat = ChatModel.load(args.model, progress=False)
    refusal = SteeringVector.load(run.root / "directions" / "directions.safetensors").layer_vectors[layer]
    if args.gate_by == "classifier":
        from rass.mitigate.harm_probe import classifier_gate, fit_harm_probe

        probe = fit_harm_probe(chat, layer, run.path("mitigate"))
        gate, vector = classifier_gate(probe, args.gate), probe.vector
    else:
        gate, vector = run_gate(boundary, args.gate, layer), refusal
    # the gated steer's own floor (steer_band), or none for an adapter
    with_floor = MitigateConfig(method="steer", gate=args.gate, steer_floor=args.steer_floor)
    floor = steer_band(run, with_floor)[0] if args.steer_floor >= 0 else -np.inf
    texts = sorted({r["prompt"] for rows in befores.values() for r in rows})
    site = f"resid_pre.{layer}"
    res = chat.forward(texts, sites=[site], refusal=True)  # one pass: both projections and the refusal scores
    assert res.refusal_scores is not None
    acts = res.activations[site].float()
    on_gate = dict(zip(texts, (acts @ (vector / vector.norm()).float()).tolist(), strict=True))
    on_refusal = dict(zip(texts, (acts @ (refusal / refusal.norm()).float()).tolist(), strict=True))
    scores = dict(zip(texts, res.refusal_scores.tolist(), strict=True))
    splits = {}
    for name, rows in befores.items():
        items = [{"id": r["id"], "label": r["label"], "refused": bool(r["refused"]), "score": scores[r["prompt"]],
                  "behind": on_gate[r["prompt"]] <= gate.threshold and on_refusal[r["prompt"]] >= floor}
                 for r in rows]  # fmt: skip
        splits[name] = bar_table(items, args.bars)
        t = splits[name]
        print(f"{name}: benign core refused {t['core_benign_refused']}, behind the gate {t['behind']}")
        b = t["behind"]
        for bar, v in t["bars"].items():
            print(f"  bar {bar:>5}: refused still mitigated {v['core_refused_mitigated']} of {b['core_refused']}, "
                  f"answered still touched {v['core_answered_touched']} of {b['core_answered']}, "
                  f"held-out {v['heldout_touched']} of {b['heldout']}")  # fmt: skip
    command = ["python benchmarks/refusing_bar.py", str(args.run), "--model", args.model, "--befores", *args.befores,
               "--bars", *(f"{b:g}" for b in args.bars), "--gate", f"{args.gate:g}", "--gate-by", args.gate_by,
               "--steer-floor", f"{args.steer_floor:g}"] + (["--name", args.name] if args.name else [])  # fmt: skip
    out = write(f"refusing-bar-{args.name or run.root.name}",
                {"run": str(args.run), "model": args.model, "layer": layer, "gate": gate.record(),
                 "floor": floor if np.isfinite(floor) else None, "befores": splits,
                 "command": " ".join(command)})  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
