"""Generate the default model's replies to the shipped seed sets (resumable), with refusal scores.

Writes ``responses.jsonl`` (one line per prompt: id, lang, set, prompt, response, refusal_score),
appending and flushing per batch so a killed run continues where it stopped. ``judge_seed_runs.py``
then judges the file. Usage:

    python benchmarks/seed_generations.py --model qwen2.5-coder-1.5b-instruct --per-set 30 \
        --out benchmarks/results/seeds-1.5b
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rass.data.seeds import SETS, load_seeds
from rass.models.chat import ChatModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--per-set", type=int, default=30, help="prompts per language × set (first ids)")
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--langs", default=None, help="comma-separated (default: all shipped)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "responses.jsonl"
    done = set()
    if path.exists():
        done = {json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()}
    langs = args.langs.split(",") if args.langs else None
    todo = []
    for s in SETS:
        records = load_seeds(langs=langs, sets=[s])
        by_lang: dict[str, list] = {}
        for r in records:
            by_lang.setdefault(r.lang, []).append(r)
        for lang_records in by_lang.values():
            todo += [(s, r) for r in sorted(lang_records, key=lambda r: r.id)[: args.per_set] if r.id not in done]
    print(f"{len(done)} done, {len(todo)} to go")
    if not todo:
        return
    chat = ChatModel.load(args.model, batch_size=args.batch_size)
    start = time.perf_counter()
    chunk = args.batch_size * 4
    with path.open("a", encoding="utf-8") as f:
        for i in range(0, len(todo), chunk):
            part = todo[i : i + chunk]
            prompts = [r.text for _, r in part]
            scores = chat.refusal_score(prompts)
            replies = chat.generate(prompts, max_new_tokens=args.max_new_tokens)
            for (s, r), reply, score in zip(part, replies, scores.tolist(), strict=True):
                row = {
                    "id": r.id, "lang": r.lang, "set": s, "label": r.label, "category": r.category,
                    "split": r.split, "prompt": r.text, "response": reply, "refusal_score": round(score, 4),
                    "model": args.model, "max_new_tokens": args.max_new_tokens,
                }  # fmt: skip
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            print(f"{i + len(part)}/{len(todo)} in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
