"""Where the time of ``rass mitigate --method sft`` goes, and what cuts it, side by side in one run.

Reads a finished mitigation's training data (``<method folder>/data/*.jsonl``) so the lengths are
the real ones, then measures on the same model, one after the other:

- generation of the retain prompts' answers (96 new tokens, the data stage's setting) at several
  batch sizes: decoding on a CPU is bound by reading the weights, so a larger batch reads them once
  for more prompts; also how many answers stay word for word the same (padding changes numerics);
- one epoch of LoRA SFT on a random subset of the training rows with gradient checkpointing on
  (trl's default) and off, and with ``batch_rebalance`` sampling (random optimizer-step sets of its
  own shuffle, each cut into micro-batches of similar length) instead of random micro-batches.

    python benchmarks/bench_mitigate_speed.py runs/rass-1.5b/mitigate/sft-lookalikes16-r48 \\
        --model qwen2.5-coder-1.5b-instruct
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import write

from rass.mitigate.data import TrainingData
from rass.mitigate.train import TrainConfig, train_adapter
from rass.models.chat import ChatModel
from rass.runs import read_rows


def _peak_rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("method_folder", type=Path, help="a finished mitigation folder with data/*.jsonl")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--prompts", type=int, default=32, help="retain prompts generated at each batch size")
    ap.add_argument("--batches", default="8,16,32")
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument("--rows", type=int, default=32, help="training rows for the one-epoch comparison")
    args = ap.parse_args()

    data_dir = args.method_folder / "data"
    data = TrainingData(*(read_rows(data_dir / f"{part}.jsonl") for part in ("comply", "anchors", "retain")))
    if not data.retain or not data.comply:
        raise SystemExit(f"{data_dir} holds no comply or retain rows")
    result: dict[str, Any] = {"model": args.model, "data": str(data_dir)}

    chat = ChatModel.load(args.model, progress=False)
    prompts = [r["prompt"] for r in data.retain[: args.prompts]]
    gen: dict[str, Any] = {}
    baseline: list[str] | None = None
    for bs in (int(b) for b in args.batches.split(",")):
        start = time.perf_counter()
        replies = chat.generate(prompts, max_new_tokens=args.new_tokens, batch_size=bs)
        seconds = time.perf_counter() - start
        baseline = baseline or replies
        gen[f"batch_{bs}"] = {
            "seconds": seconds, "s_per_prompt": round(seconds / len(prompts), 2),
            "same_as_first": sum(a == b for a, b in zip(baseline, replies, strict=True)),
        }  # fmt: skip
        print(f"generate batch {bs}: {seconds:.0f} s", flush=True)
    first = gen[next(iter(gen))]["seconds"]
    for v in gen.values():
        v["speedup_vs_first"] = round(first / max(v["seconds"], 1e-9), 2)
        v["seconds"] = round(v["seconds"], 1)
    result["generation"] = {"prompts": len(prompts), "new_tokens": args.new_tokens, **gen}

    rows = data.sft_rows()
    rows = random.Random(0).sample(rows, min(args.rows, len(rows)))
    variants = {
        "checkpointing_random": {"checkpointing": True, "sampling": "random"},
        "no_checkpointing_random": {"checkpointing": False, "sampling": "random"},
        "no_checkpointing_rebalance": {"checkpointing": False, "sampling": "batch_rebalance"},
    }
    train: dict[str, Any] = {}
    for name, extra in variants.items():
        chat = ChatModel.load(args.model, progress=False)  # a fresh base for each: training wraps it
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            info = train_adapter(chat, rows, Path(tmp), TrainConfig(save_steps=10_000, **extra))
            seconds = time.perf_counter() - start
        train[name] = {"seconds": seconds, "steps": info["steps"], "train_loss": round(info["train_loss"], 4),
                       "peak_rss_gib_so_far": _peak_rss_gib()}  # fmt: skip
        print(f"train {name}: {seconds:.0f} s", flush=True)
    base = train["checkpointing_random"]["seconds"]
    for v in train.values():
        v["speedup_vs_checkpointing_random"] = round(base / max(v["seconds"], 1e-9), 2)
        v["seconds"] = round(v["seconds"], 1)
    result["training"] = {"rows": len(rows), **train}

    path = write(f"mitigate-speed-{args.model.replace(':', '-')}", result)
    print(f"→ {path}")


if __name__ == "__main__":
    main()
