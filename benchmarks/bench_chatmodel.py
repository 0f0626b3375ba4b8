"""ChatModel costs, measured side by side in one run (ratios, not absolute timings).

- capture overhead: capturing every layer's last-token residual vs a plain forward, equal batch
- padding waste: length-bucketed vs arrival-order batches over the English seed sets
- refusal score (one forward) vs generating 32 tokens, at batch 1 and batch 16

    python benchmarks/bench_chatmodel.py --model qwen2.5-coder-1.5b-instruct
"""

from __future__ import annotations

import argparse

import torch
from _common import median_seconds, write

from rass.data.seeds import load_seeds
from rass.models.batching import padding_waste, plan_batches
from rass.models.chat import ChatModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--single", type=int, default=4, help="prompts for the batch-1 comparison")
    ap.add_argument("--new-tokens", type=int, default=32)
    args = ap.parse_args()

    chat = ChatModel.load(args.model, progress=False)
    seeds = load_seeds(langs=["en"])
    prompts = [r.text for r in seeds]
    batch = prompts[: args.batch]

    # 1. capture overhead (same batch, same forward, hooks on every layer vs none)
    enc = chat.encode(batch)

    def plain() -> None:
        with torch.inference_mode():
            chat.model(
                input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                position_ids=enc.position_ids, use_cache=False, logits_to_keep=1,
            )  # fmt: skip

    sites = [f"resid_pre.{k}" for k in range(chat.n_layers)]

    def no_capture() -> None:
        chat.forward(batch, refusal=True, batch_size=len(batch))

    def capture() -> None:
        chat.forward(batch, sites=sites, refusal=True, batch_size=len(batch))

    plain()  # warm-up
    runs: dict[str, list[float]] = {"raw": [], "pipeline": [], "capture": []}
    for _ in range(args.repeats):  # interleaved so drift hits all alike
        runs["raw"].append(median_seconds(plain, 1))
        runs["pipeline"].append(median_seconds(no_capture, 1))
        runs["capture"].append(median_seconds(capture, 1))
    raw_s, plain_s, capture_s = (sorted(v)[len(v) // 2] for v in runs.values())

    # 2. padding waste over every English seed prompt
    lengths = chat.check_prompts(prompts)
    waste_bucketed = padding_waste(lengths, plan_batches(lengths, args.batch))
    waste_arrival = padding_waste(lengths, plan_batches(lengths, args.batch, bucket=False))

    # 3. refusal score vs generating N tokens
    def score_vs_generate(ps: list[str], bs: int) -> dict[str, float]:
        s = median_seconds(lambda: chat.refusal_score(ps, batch_size=bs), args.repeats)
        g = median_seconds(
            lambda: chat.generate(ps, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, batch_size=bs),
            1,
        )
        return {"score_s_per_prompt": s / len(ps), "generate_s_per_prompt": g / len(ps), "ratio": g / s}

    single = score_vs_generate(prompts[: args.single], 1)
    batched = score_vs_generate(batch, args.batch)

    result = {
        "model": args.model,
        "batch": args.batch,
        "capture": {
            "raw_model_call_s": round(raw_s, 4),
            "forward_without_capture_s": round(plain_s, 4),
            "forward_capturing_all_layers_s": round(capture_s, 4),
            "overhead": round(capture_s / plain_s - 1, 4),
            "pipeline_overhead_vs_raw_call": round(plain_s / raw_s - 1, 4),
            "layers": chat.n_layers,
        },
        "padding_waste": {
            "prompts": len(prompts),
            "bucketed": round(waste_bucketed, 4),
            "arrival_order": round(waste_arrival, 4),
        },
        "refusal_score_vs_generate": {
            "new_tokens": args.new_tokens,
            "batch_1": {k: round(v, 4) for k, v in single.items()},
            f"batch_{args.batch}": {k: round(v, 4) for k, v in batched.items()},
        },
    }
    path = write(f"chatmodel-{args.model.replace(':', '-')}", result)
    print(
        f"{args.model}: capture overhead {result['capture']['overhead']:+.1%}, padding waste "
        f"{waste_bucketed:.1%} bucketed vs {waste_arrival:.1%} arrival, refusal score "
        f"{single['ratio']:.1f}x (batch 1) / {batched['ratio']:.1f}x (batch {args.batch}) cheaper than "
        f"{args.new_tokens} generated tokens → {path}"
    )


if __name__ == "__main__":
    main()
