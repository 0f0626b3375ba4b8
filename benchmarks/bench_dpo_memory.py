"""Peak memory and time of LoRA DPO steps at two micro-batch shapes of one effective batch, side by side.

DPO puts each pair's chosen and rejected answers through the policy and, with the adapter switched off,
the reference: four sequences per row where SFT has one. On a CPU the 1.5B's default DPO run peaked at
20.8 GB of a 24 GiB machine. Each shape runs in a fresh child process (peak RSS is per process) on the
rows of a finished DPO mitigation (``<method folder>/data/*.jsonl``, the model's own replies as rejected),
for the same few optimizer steps; the parent reads each child's peak RSS from ``wait4``.

    python benchmarks/bench_dpo_memory.py runs/demo/mitigate/dpo --model qwen2.5-coder-1.5b-instruct
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, write


def child(folder: Path, model: str, batch: int, accum: int, steps: int, sft_weight: float) -> None:
    """One shape's training, in this process: prints its timing as one JSON line."""
    from rass.mitigate.data import TrainingData
    from rass.mitigate.train import TrainConfig, train_adapter
    from rass.models.chat import ChatModel
    from rass.runs import read_rows

    data = TrainingData(*(read_rows(folder / "data" / f"{part}.jsonl") for part in ("comply", "anchors", "retain")))
    rows = data.dpo_rows()
    chat = ChatModel.load(model, progress=False)
    cfg = TrainConfig(method="dpo", batch_size=batch, grad_accum=accum, max_steps=steps, sft_weight=sft_weight)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = train_adapter(chat, rows, Path(tmp), cfg)
        seconds = time.perf_counter() - start
    print(json.dumps({"rows": len(rows), "steps": out["steps"], "train_seconds": round(seconds, 1),
                      "batch_size_used": out["batch_size_used"]}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("method_folder", type=Path, help="a finished dpo mitigation folder with data/*.jsonl")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--shapes", default="4x2,2x4", help="micro-batch x accumulation, one effective batch")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--sft-weight", type=float, default=1.0)
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        batch, accum = (int(x) for x in args.child.split("x"))
        child(args.method_folder, args.model, batch, accum, args.steps, args.sft_weight)
        return
    if not (args.method_folder / "data" / "comply.jsonl").is_file():
        raise SystemExit(f"{args.method_folder} holds no data/comply.jsonl: run rass mitigate --method dpo first")
    result: dict[str, Any] = {"model": args.model, "folder": str(args.method_folder), "steps": args.steps,
                              "sft_weight": args.sft_weight, "machine": machine(), "shapes": {}}  # fmt: skip
    for shape in args.shapes.split(","):
        cmd = [sys.executable, __file__, str(args.method_folder), "--model", args.model, "--steps", str(args.steps),
               "--sft-weight", str(args.sft_weight), "--child", shape]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        lines = proc.stdout.read().strip().splitlines()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0 or not lines:
            raise SystemExit(f"the {shape} child failed (status {status})")
        result["shapes"][shape] = json.loads(lines[-1]) | {
            "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2), "wall_seconds": round(time.perf_counter() - start, 1)
        }  # fmt: skip
        print(shape, result["shapes"][shape], flush=True)
    first = next(iter(result["shapes"].values()))
    result["ratios_to_first"] = {s: {"peak_rss": round(v["peak_rss_gib"] / first["peak_rss_gib"], 3),
                                     "train_seconds": round(v["train_seconds"] / first["train_seconds"], 3)}
                                 for s, v in result["shapes"].items()}  # fmt: skip
    print("written to", write(f"mitigate-dpo-memory-{args.model.replace(':', '-')}", result))


if __name__ == "__main__":
    main()
