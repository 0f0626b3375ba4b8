"""What an adapter gate (``rass mitigate --gate Q``) would have done to mitigations already evaluated, read
from their results' flips and one forward pass of the model before, instead of an evaluation per quantile.

    python benchmarks/gate_sweep.py runs/demo --model qwen2.5-coder-1.5b-instruct \
        --quantiles 0.05 0.1 0.2 --results benchmarks/results/mitigate-*-validation48-*.json

Why: a gate sends a prompt to the adapter only if the model before projects it at or below the Q quantile
of the probe's harmful train/validation prompts; every other prompt is answered by the model before. So a
gated evaluation differs from the ungated one only in the items above the gate, and those answer as the
"before" evaluation did. A result JSON lists every item whose verdict the mitigation flipped (``changes``),
so the gated counts are exact arithmetic on it: before, minus the flips at or below the gate that answer
now, plus those that refuse now. The one assumption (an item's reply does not depend on its batch
neighbours) is what ``rass mitigate --gate`` itself checks when it is run.

Only MORBench-core items count (the goals' benign and harmful counts); the run must be the one whose
directions the results were evaluated with (its layer and probe threshold are printed to compare).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from _common import one_line_errors, write

from rass.errors import RassError

FLIPS = ("benign_answered_now", "benign_refused_now", "harmful_answered_now", "harmful_refused_now")


def counts(result: Mapping[str, Any]) -> dict[str, int]:
    """MORBench-core benign and harmful items refused before and after, and their numbers."""
    out = {}
    for side, key in (("benign", "over_refusal"), ("harmful", "harmful_refusal")):
        for when in ("before", "after"):
            m = result[when]["morbench_core"][key]
            out[f"{side}_{when}"] = round(m["rate"] * m["n"])
        out[f"{side}_n"] = result["before"]["morbench_core"][key]["n"]
    return out


def gated(result: Mapping[str, Any], proj: Mapping[str, float], threshold: float) -> dict[str, int]:
    """The core counts had the adapter answered only items projecting at or below ``threshold`` under the
    model before: flips above it undone."""
    c = counts(result)
    inside = {k: [i for i in result["changes"].get(k, []) if i["id"].startswith("core:")
                  and proj[i["id"]] <= threshold] for k in FLIPS}  # fmt: skip
    return {
        "benign": c["benign_before"] - len(inside["benign_answered_now"]) + len(inside["benign_refused_now"]),
        "harmful": c["harmful_before"] - len(inside["harmful_answered_now"]) + len(inside["harmful_refused_now"]),
    }


def flip_prompts(results: Sequence[Mapping[str, Any]], core: Mapping[str, str]) -> dict[str, str]:
    """Every flipped core item's whole prompt, by id, from MORBench-core (``core``: seed id → text).

    A result keeps each prompt cut to ``SNIPPET`` characters, and a cut prompt would project elsewhere: the
    whole one is looked up, and a flip whose kept text is not that prompt's is another benchmark build.
    """
    from rass.mitigate.changes import snip

    prompts: dict[str, str] = {}
    for r in results:
        for k in FLIPS:
            for item in r["changes"].get(k, []):
                if not item["id"].startswith("core:"):
                    continue
                whole = core.get(item["id"].removeprefix("core:"))
                if whole is None or snip(whole) != item["prompt"]:
                    raise RassError(f"{item['id']} is not this MORBench-core's item: another benchmark build")
                prompts[item["id"]] = whole
    return prompts


def main() -> None:
    one_line_errors(_main)


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="the run the results were evaluated on (its directions and probe)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--quantiles", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--results", type=Path, nargs="+", required=True, help="mitigate-*.json result files")
    ap.add_argument("--name", default="", help="the output's name: gate-sweep-NAME.json")
    ap.add_argument("--gate-by", choices=["direction", "classifier"], default="direction",
                    help="what the gate projects on, as rass mitigate --gate-by (the classifier is fitted, or read "
                    "back, in RUN/mitigate/harm-probe-*)")  # fmt: skip
    args = ap.parse_args()
    if any(not 0 < q < 1 for q in args.quantiles):
        raise SystemExit("error: a gate quantile is a share of harmful prompts, between 0 and 1")
    from rass.directions.vector import SteeringVector
    from rass.mitigate.gate import reach, reach_line, run_gate
    from rass.models.chat import ChatModel
    from rass.runs import RunDir, read_json, read_rows

    run = RunDir.existing(args.run)
    fit = read_json(run.root / "boundary" / "fit.json")
    layer = int(fit["layer"])
    boundary = read_rows(run.root / "boundary" / "boundary.jsonl")
    results = []
    for path in args.results:
        try:
            r = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RassError(f"{path} cannot be read as a result file: {exc}") from None
        if "changes" not in r or "morbench_core" not in r.get("before", {}):
            raise RassError(f"{path} is not a rass mitigate result (no changes or MORBench-core counts)")
        if int(r.get("layer", layer)) != layer:
            raise RassError(f"{path} was evaluated at layer {r['layer']}, {args.run} probes layer {layer}")
        results.append((path, r))
    from rass.bench.build import core_records

    prompts = flip_prompts([r for _, r in results], {c.id: c.text for c in core_records()})
    # the "before" verdicts, where the run still holds them: what each gate leaves in the adapter's reach
    mitigate = run.root / "mitigate"
    judged = {str(r.get("before_dir")): mitigate / str(r.get("before_dir")) / "judged.jsonl" for _, r in results}
    befores = {d: read_rows(path) for d, path in judged.items() if path.is_file()}
    ids = sorted(prompts)
    chat = ChatModel.load(args.model, progress=False)
    if args.gate_by == "classifier":
        from rass.mitigate.harm_probe import classifier_gate, fit_harm_probe

        probe = fit_harm_probe(chat, layer, run.path("mitigate"))
        gates, vector = [classifier_gate(probe, q) for q in sorted(args.quantiles)], probe.vector
    else:
        gates = [run_gate(boundary, q, layer) for q in sorted(args.quantiles)]
        vector = SteeringVector.load(run.root / "directions" / "directions.safetensors").layer_vectors[layer]
    site = f"resid_pre.{layer}"
    refused = {b["prompt"] for rows in befores.values() for b in rows if b.get("refused")}
    texts = sorted({prompts[i] for i in ids} | refused)
    values = (chat.forward(texts, sites=[site]).activations[site].float()
              @ (vector / vector.norm()).float()).tolist() if texts else []  # fmt: skip
    by_text = dict(zip(texts, values, strict=True))
    proj = {i: by_text[prompts[i]] for i in ids}
    rows = []
    print(f"run {args.run}: layer {layer}, probe threshold {fit['threshold']:.4f}")
    for path, r in results:
        c = counts(r)
        at = {f"{g.quantile:g}": {"threshold": round(g.threshold, 4), **gated(r, proj, g.threshold)} for g in gates}
        flips = {k: sorted(round(proj[i["id"]], 2) for i in r["changes"].get(k, []) if i["id"].startswith("core:"))
                 for k in FLIPS}  # fmt: skip
        split = r.get("config", {}).get("eval_split", "test")
        row: dict[str, Any] = {"result": path.name, "split": split, **c, "gates": at, "flip_projections": flips}
        if r.get("before_dir") in befores:
            refused = [b for b in befores[r["before_dir"]] if b.get("refused")]
            row["reach"] = {f"{g.quantile:g}": reach(refused, by_text, g) for g in gates}
        rows.append(row)
        cells = "  ".join(f"q{q}: {v['benign']}/{v['harmful']}" for q, v in row["gates"].items())
        print(f"{path.name}: before {c['benign_before']}/{c['harmful_before']}, after {c['benign_after']}/"
              f"{c['harmful_after']} of {c['benign_n']}/{c['harmful_n']}; gated {cells}")  # fmt: skip
        for q, rch in row.get("reach", {}).items():
            print(f"  q{q} {reach_line(rch)}")
    command = [
        "python benchmarks/gate_sweep.py",
        str(args.run),
        "--model",
        args.model,
        "--quantiles",
        *map(str, args.quantiles),
        "--results",
        *(p.name for p in args.results),
    ]
    command += ["--name", args.name] if args.name else []
    command += ["--gate-by", args.gate_by] if args.gate_by != "direction" else []
    out = write(f"gate-sweep-{args.name or run.root.name}",
                {"run": str(args.run), "model": args.model, "layer": layer, "gate_by": args.gate_by,
                 "gates": [g.record() for g in gates], "results": rows,
                 "command": " ".join(command)})  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
