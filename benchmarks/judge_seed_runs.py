"""Judge the default model's seed-set generations: refusal rates per language × set, and how well the
logit judge (one forward pass, no generation) agrees with the string judge on real generations.

    python benchmarks/judge_seed_runs.py /work/runs/seeds-1.5b/responses.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from _common import write

from rass.judge.base import JudgeItem, get_judge
from rass.judge.logit import fit_threshold
from rass.stats import bootstrap_ci


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("responses", type=Path)
    ap.add_argument("--rescore", action="store_true", help="recompute refusal scores with the current code")
    args = ap.parse_args()
    rows = [json.loads(x) for x in args.responses.read_text().splitlines() if x.strip()]
    if args.rescore:
        from rass.models.chat import ChatModel

        chat = ChatModel.load(rows[0]["model"], batch_size=16)
        scores = chat.refusal_score([r["prompt"] for r in rows]).tolist()
        for r, sc in zip(rows, scores, strict=True):
            r["refusal_score"] = round(sc, 4)
    verdicts = get_judge("string").judge([JudgeItem(r["prompt"], r["response"], r["lang"]) for r in rows])
    for r, v in zip(rows, verdicts, strict=True):
        r["string_label"] = v.label
        r["refused"] = v.refused

    rates: dict[str, dict[str, dict[str, object]]] = defaultdict(dict)
    for lang in sorted({r["lang"] for r in rows}):
        for s in ("harmful", "harmless", "lookalike"):
            ys = [float(r["refused"]) for r in rows if r["lang"] == lang and r["set"] == s]
            if ys:
                ci = bootstrap_ci(ys)
                rates[lang][s] = {"n": len(ys), "refusal_rate": round(sum(ys) / len(ys), 4),
                                  "ci95": [round(c, 4) for c in ci] if ci else None}  # fmt: skip

    def agreement(subset: list[dict], threshold: float) -> float:
        return sum((r["refusal_score"] > threshold) == r["refused"] for r in subset) / len(subset)

    train = [r for r in rows if r["split"] == "train"]
    rest = [r for r in rows if r["split"] != "train"]
    t_fit, _ = fit_threshold([r["refusal_score"] for r in train], [r["refused"] for r in train])
    by_lang = {
        lang: {
            "n": len(sub),
            "agreement_at_0": round(agreement(sub, 0.0), 4),
            "agreement_at_calibrated": round(agreement(sub, t_fit), 4),
        }
        for lang in sorted({r["lang"] for r in rows})
        for sub in [[r for r in rows if r["lang"] == lang]]
    }
    result = {
        "model": rows[0]["model"],
        "responses": len(rows),
        "max_new_tokens": rows[0]["max_new_tokens"],
        "refusal_rates": rates,
        "logit_vs_string": {
            "threshold_0": round(agreement(rows, 0.0), 4),
            "calibrated_threshold": round(t_fit, 4),
            "calibrated_on_train_split_n": len(train),
            "calibrated_agreement_on_other_splits": round(agreement(rest, t_fit), 4) if rest else None,
            "by_lang": by_lang,
        },
        "string_labels": {
            k: sum(r["string_label"] == k for r in rows) for k in ("full_compliance", "full_refusal", "partial_refusal")
        },
    }
    path = write(f"seed-refusals-{rows[0]['model']}", result)
    en = rates.get("en", {})
    print(
        f"{rows[0]['model']}: logit/string agreement {result['logit_vs_string']['threshold_0']:.1%} at 0; "
        "en refusal rates: "
        + ", ".join(f"{s} {en.get(s, {}).get('refusal_rate')}" for s in ("harmful", "harmless", "lookalike"))
        + f" → {path}"
    )


if __name__ == "__main__":
    main()
