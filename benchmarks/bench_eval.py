"""Eval throughput (P3): the harness's batched generation vs a per-prompt loop, on the same items.

Both arms run ``rass.evaluate.harness.run_eval`` on the same MORBench-core items (one per language
x label, so prompt lengths are mixed as in a real evaluation) into fresh folders; only the batch
size differs. The arms alternate (batched, loop, batched, loop …) so machine noise hits both.

python benchmarks/bench_eval.py --model qwen2.5-coder-0.5b-instruct --items 16 --tokens 40
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    from rass.bench.build import core_records
    from rass.data.seeds import cap_per_lang
    from rass.evaluate.backends import TransformersBackend
    from rass.evaluate.harness import run_eval
    from rass.models.chat import ChatModel

    records = cap_per_lang(core_records(), 1, key=lambda r: (r.lang, r.label))[: args.items]
    chat = ChatModel.load(args.model, batch_size=args.batch)
    backend = TransformersBackend(chat)
    times: dict[str, list[float]] = {"batched": [], "per_prompt": []}
    answers: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for arm, batch in (("batched", args.batch), ("per_prompt", 1)):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                run_eval(backend, records, Path(tmp), max_new_tokens=args.tokens, batch_size=batch, plots=False)
                times[arm].append(time.perf_counter() - start)
                answers[arm] = [
                    line for line in (Path(tmp) / "responses.jsonl").read_text(encoding="utf-8").splitlines()
                ]
    batched, loop = statistics.median(times["batched"]), statistics.median(times["per_prompt"])
    same = sum(a == b for a, b in zip(answers["batched"], answers["per_prompt"], strict=True))
    payload = {
        "model": args.model,
        "items": len(records),
        "max_new_tokens": args.tokens,
        "batch_size": args.batch,
        "seconds": times,
        "seconds_per_item": {"batched": round(batched / len(records), 3), "per_prompt": round(loop / len(records), 3)},
        "speedup": round(loop / batched, 2),
        "identical_responses": f"{same}/{len(records)}",
    }
    path = write(f"eval-throughput-{args.model}", payload)
    print(f"eval batched vs per-prompt: {payload['speedup']}x ({payload['seconds_per_item']}), "
          f"identical responses {same}/{len(records)} -> {path}")  # fmt: skip


if __name__ == "__main__":
    main()
