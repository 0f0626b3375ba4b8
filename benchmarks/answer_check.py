"""How well the answer-harm check agrees with a person's labels, on one training-data file.

Comply targets come from a benign prompt, but a steered model may still answer the harmful request
quoted inside the prompt. ``rass.mitigate.data.harmful_answers`` asks a model whether each answer
gives harmful help; this script compares its verdicts with labels a person wrote after reading the
answers (a JSON file: {"harmful_help": [comply row ids]}), and reports precision and recall. With
``--run`` it also reports how well the run's refusal direction separates the labelled answers: the
AUROC of each answer's projection (the answer alone as a user turn, and prompt + answer).

python benchmarks/answer_check.py --data runs/rass-1.5b/mitigate/data-*/data.json \\
    --labels my_labels.json --model qwen2.5-coder-1.5b-instruct --name 1.5b-steered --run runs/rass-1.5b
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--labels", type=Path, required=True)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--name", default="run")
    ap.add_argument("--run", type=Path, help="a probed run: also score answers with its refusal direction")
    args = ap.parse_args()

    from rass.mitigate.data import harmful_answers
    from rass.models.chat import ChatModel

    rows = json.loads(args.data.read_text())["comply"]
    labels = json.loads(args.labels.read_text())
    gold = set(labels["harmful_help"])
    unknown = gold - {r["id"] for r in rows}
    if unknown:
        raise SystemExit(f"labels name rows the data does not have: {sorted(unknown)}")
    chat = ChatModel.load(args.model)
    start = time.perf_counter()
    flags = harmful_answers(chat, [r["prompt"] for r in rows], [r["completion"] for r in rows])
    seconds = time.perf_counter() - start
    tp = sum(f and r["id"] in gold for r, f in zip(rows, flags, strict=True))
    direction_auroc = None
    if args.run:
        from rass.directions.vector import SteeringVector
        from rass.stats import auroc

        layer = int(json.loads((args.run / "boundary" / "fit.json").read_text())["layer"])
        v = SteeringVector.load(args.run / "directions" / "directions.safetensors").layer_vectors[layer]
        y = [r["id"] in gold for r in rows]
        direction_auroc = {"layer": layer}
        for name, texts in (("answer_alone", [r["completion"] for r in rows]),
                            ("prompt_and_answer", [r["prompt"] + "\n\n" + r["completion"] for r in rows])):  # fmt: skip
            acts = chat.forward(texts, sites=[f"resid_pre.{layer}"]).activations[f"resid_pre.{layer}"]
            direction_auroc[name] = auroc((acts @ (v / v.norm())).tolist(), y)
    flagged, positives = sum(flags), len(gold)
    write(
        f"answer-check-{args.name}",
        {
            "model": args.model,
            "data": str(args.data),
            "n": len(rows),
            "gold_harmful": positives,
            "flagged": flagged,
            "true_positives": tp,
            "precision": round(tp / flagged, 3) if flagged else None,
            "recall": round(tp / positives, 3) if positives else None,
            "harmful_kept": positives - tp,
            "benign_dropped": flagged - tp,
            "seconds": round(seconds, 1),
            "refusal_direction_auroc": direction_auroc,
            "rows": [{"id": r["id"], "gold": r["id"] in gold, "flagged": f} for r, f in zip(rows, flags, strict=True)],
            "labeled_by": labels.get("labeled_by"),
        },
    )


if __name__ == "__main__":
    main()
