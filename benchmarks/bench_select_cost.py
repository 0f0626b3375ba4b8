"""Selection cost vs generate-and-judge (P1), on the same candidates, at the same batch size.

A random sample of a run's scored candidates is (a) scored the way ``rass select`` scores them (one
forward pass: projection, distance, refusal score), (b) projected only (capture stops at the probe
layer), (c) answered with 40 new tokens and judged, (d) answered in full (256 tokens, fewer
prompts). Arms (a)-(c) alternate over the repeats so machine noise hits all of them; (d) runs once.

python benchmarks/bench_select_cost.py --run runs/rass-1.5b --model qwen2.5-coder-1.5b-instruct
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from _common import write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--long", type=int, default=16, help="prompts answered in full")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    from rass.data.schema import PromptRecord
    from rass.judge.base import JudgeItem, get_judge
    from rass.models.chat import ChatModel
    from rass.runs import RunDir
    from rass.select.runner import probe_artifacts, score_candidates

    rows = [json.loads(x) for x in (args.run / "select" / "scored.jsonl").read_text(encoding="utf-8").splitlines()]
    sample = random.Random(0).sample(rows, min(args.n, len(rows)))
    fields = PromptRecord.__dataclass_fields__
    records = [PromptRecord.from_dict({k: v for k, v in r.items() if k in fields}) for r in sample]
    texts = [r.text for r in records]
    direction, fit = probe_artifacts(RunDir.existing(args.run))
    layer = int(fit["layer"])
    chat = ChatModel.load(args.model, batch_size=args.batch, progress=False)
    judge = get_judge("string")
    times: dict[str, list[float]] = {"score": [], "project_only": [], "generate_40_and_judge": []}
    scored: list[dict[str, Any]] = []
    verdicts: list[bool] = []

    def timed(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        out = fn()
        times[name].append(time.perf_counter() - start)
        return out

    for _ in range(args.repeats):
        scored = timed("score", lambda: score_candidates(chat, records, direction, fit))
        timed("project_only", lambda: chat.capture(texts, [layer]))

        def gen_and_judge() -> list[bool]:
            replies = chat.generate(texts, max_new_tokens=40)
            items = [JudgeItem(t, a, r.lang) for t, a, r in zip(texts, replies, records, strict=True)]
            return [v.refused for v in judge.judge(items)]

        verdicts = timed("generate_40_and_judge", gen_and_judge)
    long_texts = texts[: args.long]
    start = time.perf_counter()
    chat.generate(long_texts, max_new_tokens=256, min_new_tokens=256)
    long_s = (time.perf_counter() - start) / len(long_texts)

    per = {k: statistics.median(v) / len(texts) for k, v in times.items()}
    per["generate_256"] = long_s
    agree = sum(s["refused_logit"] == v for s, v in zip(scored, verdicts, strict=True)) / len(texts)
    payload = {
        "run": str(args.run),
        "model": args.model,
        "candidates": len(texts),
        "full_answers": len(long_texts),
        "batch_size": args.batch,
        "mean_prompt_tokens": round(sum(chat.check_prompts(texts)) / len(texts), 1),
        "seconds": times,
        "seconds_per_candidate": {k: round(v, 4) for k, v in per.items()},
        "ratio_vs_score": {k: round(v / per["score"], 2) for k, v in per.items()},
        "ratio_vs_project_only": {k: round(v / per["project_only"], 2) for k, v in per.items()},
        "refused_by_generation": sum(verdicts),
        "score_vs_generated_agreement": round(agree, 4),
    }
    path = write(f"select-cost-{args.model}", payload)
    ratio, ratio_p = payload["ratio_vs_score"], payload["ratio_vs_project_only"]
    print(f"selection cost: generate-40+judge {ratio['generate_40_and_judge']}x, full answer "
          f"{ratio['generate_256']}x the one-pass score (projection only: {ratio_p['generate_256']}x); "
          f"agreement {agree:.2f} -> {path}")  # fmt: skip


if __name__ == "__main__":
    main()
