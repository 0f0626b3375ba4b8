"""Training seeds answering together: each reply token is the greedy pick of the members' *mean
probability*, every member with its own adapter and, if it had one, its own guard.

    python benchmarks/ensemble_eval.py runs/demo dpo-nll-guard99 dpo-nll-guard99-seed4 \
        --eval-split validation --eval-limit 48 --name demo-run

Why: with about 50 pairs and 7 optimizer steps, the training seed decides which prompts a DPO or sft
training moves, and two seeds of one setting land at the two ends of one trade (one answers benign
look-alikes and some harmful requests, the other keeps every refusal and refuses more benign ones). The
weight soup (``rass mitigate --soup``) averages the seeds' weight changes; this averages what they say.
A prompt both members answer is answered, one both refuse is refused, and where they disagree the more
confident wins. The cost at inference is one extra row per member in each batch, not another model.

Implementation: one base model, the members loaded as named peft adapters, every prompt repeated once
per member with ``adapter_names`` (peft's mixed-adapter batch), a logits processor that sets each
member's row to the group's mean distribution (so all copies pick the same token and stay in step), and a
guard hook that compares each row's projection with its own member's threshold. The items, judge and
"before" are the ones ``rass mitigate`` evaluated with (its ``before-*`` folder is reused and checked).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import one_line_errors, write

from rass.errors import RassError


class EnsembleBackend:
    """Greedy generation from the mean next-token distribution of the adapters named ``names``."""

    name = "transformers-ensemble"

    def __init__(self, chat: Any, names: Sequence[str], guards: Sequence[float | None], direction: Any,
                 layer: int) -> None:  # fmt: skip
        self.chat, self.names, self.guards = chat, list(names), list(guards)
        self.direction, self.layer = direction, layer

    def _hooks(self, rows: int) -> Any:
        """The members' guards on a batch of ``rows`` rows (member k at rows k, k+K, …)."""
        import torch

        from rass.models.hooks import HookSet

        k = len(self.names)
        # row r belongs to member r % k (each prompt repeated once per member, in member order)
        thr = torch.tensor([math.inf if g is None else g for g in self.guards] * (rows // k))
        unit = self.direction / self.direction.norm()
        state: dict[str, Any] = {"mask": None}

        def fn(hidden: torch.Tensor) -> torch.Tensor:
            if hidden.shape[1] > 1:  # the prompt pass decides, per row, under that row's own adapter
                proj = hidden[:, -1, :].float() @ unit.to(hidden.device)
                state["mask"] = proj >= thr.to(hidden.device)  # as the guard's band
            mask = state["mask"]
            if mask is None or not bool(mask.any()):
                return hidden
            out = hidden.clone()
            out[mask] = hidden[mask] + self.direction.to(hidden.device, hidden.dtype)
            return out

        hooks = HookSet(self.chat.model)
        hooks.edit_input(self.layer, fn)
        return hooks

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int) -> list[str]:
        import torch
        from transformers import LogitsProcessor, LogitsProcessorList

        from rass.models.batching import plan_batches

        k = len(self.names)

        class MeanOfMembers(LogitsProcessor):  # type: ignore[misc]
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
                lp = torch.log_softmax(scores.float(), -1).view(-1, k, scores.shape[-1])
                mean = torch.logsumexp(lp, 1) - math.log(k)
                return mean.repeat_interleave(k, 0).to(scores.dtype)

        chat = self.chat
        lengths = chat.check_prompts(prompts, reserve=max_new_tokens)
        config = chat.generation_config(max_new_tokens)
        replies = [""] * len(prompts)
        with torch.inference_mode():
            for idx in plan_batches(lengths, batch_size):
                enc = chat.encode([prompts[i] for i in idx])
                ids = enc.input_ids.repeat_interleave(k, 0)
                with self._hooks(ids.shape[0]):
                    out = chat.model.generate(input_ids=ids, attention_mask=enc.attention_mask.repeat_interleave(k, 0),
                                              generation_config=config, adapter_names=self.names * len(idx),
                                              logits_processor=LogitsProcessorList([MeanOfMembers()]))  # fmt: skip
                new = out[::k, ids.shape[1] :]
                for j, i in enumerate(idx):
                    replies[i] = str(chat.tokenizer.decode(new[j], skip_special_tokens=True)).strip()
        return replies

    def first_token_logprobs(self, prompts: Sequence[str]) -> Any:
        """The ensemble's first-token distribution (log), each member under its own guard."""
        import torch

        k = len(self.names)
        enc = self.chat.encode(list(prompts))
        ids = enc.input_ids.repeat_interleave(k, 0)
        with torch.inference_mode(), self._hooks(ids.shape[0]):
            logits = self.chat.model(input_ids=ids, attention_mask=enc.attention_mask.repeat_interleave(k, 0),
                                     position_ids=enc.position_ids.repeat_interleave(k, 0),
                                     adapter_names=self.names * len(prompts)).logits[:, -1, :]  # fmt: skip
        lp = torch.log_softmax(logits.float(), -1).view(-1, k, logits.shape[-1])
        return torch.logsumexp(lp, 1) - math.log(k)


def _member(run: Path, name: str, split: str) -> dict[str, Any]:
    folder = run / "mitigate" / name
    paths = (folder / f"metrics-{split}.json", folder / "metrics.json", folder / "metrics-validation.json")
    record = next((json.loads(p.read_text()) for p in paths if p.is_file()), None)
    if record is None or record.get("method") not in ("sft", "dpo"):
        raise RassError(f"{folder} holds no evaluated sft/dpo training")
    if record.get("adapter_scale"):
        raise RassError(f"{folder} was evaluated scaled; the ensemble takes whole adapters")
    guard = json.loads((folder / "guard.json").read_text()) if record.get("guard") else None
    return {"folder": folder, "record": record, "guard": guard}


def main() -> None:
    one_line_errors(_main)


def _main() -> None:
    from rass.directions.vector import SteeringVector
    from rass.evaluate.backends import TransformersBackend
    from rass.evaluate.harness import run_eval
    from rass.mitigate.changes import paired_tests, verdict_changes
    from rass.mitigate.config import MitigateConfig
    from rass.mitigate.goals import harmful_refused, refused
    from rass.mitigate.runner import (
        _eval_sets,
        _group_metrics,
        before_folder,
        harmless_probe,
        mean_kl,
        report_frame_ids,
        split_boundary,
    )
    from rass.models.chat import ChatModel
    from rass.models.hooks import find_layers
    from rass.runs import RunDir, read_rows, write_json

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("members", nargs="+", help="mitigation folders in RUN/mitigate/ (training seeds)")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--eval-split", default="test", choices=["test", "validation"])
    ap.add_argument("--eval-limit", type=int, default=12)
    ap.add_argument("--name", default=None, help="results name (default: the run folder's name)")
    args = ap.parse_args()
    if len(set(args.members)) < 2:
        raise SystemExit("error: an ensemble needs two or more different members")
    members = [_member(args.run, n, args.eval_split) for n in args.members]
    layers = {m["guard"]["layer"] for m in members if m["guard"]}
    run = RunDir(args.run)
    direction = SteeringVector.load(args.run / "directions" / "directions.safetensors")
    layer = layers.pop() if layers else int(json.loads((args.run / "boundary" / "fit.json").read_text())["layer"])
    chat = ChatModel.load(args.model)
    cfg = MitigateConfig(eval_split=args.eval_split, eval_limit=args.eval_limit)
    train_rows, held, _ = split_boundary(run, cfg)
    langs = sorted({r["lang"] for r in train_rows + held} | {"en"})
    records = _eval_sets(run, held, cfg, langs)
    before_dir = before_folder(run, chat, cfg, records)
    if not (before_dir / "judged.jsonl").is_file():
        raise SystemExit(f"error: {before_dir} is missing: run rass mitigate on this split and limit first")
    harmless = harmless_probe()
    base_lp = chat.next_token_logprobs(harmless)
    before = run_eval(TransformersBackend(chat), records, before_dir, max_new_tokens=cfg.eval_max_new_tokens,
                      plots=False)  # fmt: skip

    from peft import PeftModel

    from rass.models.adapters import check_base

    for m in members:
        check_base(chat, m["folder"] / "adapter")
    names = [f"m{i}" for i in range(len(members))]
    chat.model = PeftModel.from_pretrained(chat.model, str(members[0]["folder"] / "adapter"), adapter_name=names[0])
    for n, m in zip(names[1:], members[1:], strict=True):
        chat.model.load_adapter(str(m["folder"] / "adapter"), adapter_name=n)
    chat.model.eval()
    chat.layers = find_layers(chat.model)
    guards = [m["guard"]["threshold"] if m["guard"] else None for m in members]
    backend = EnsembleBackend(chat, names, guards, direction.layer_vectors[layer], layer)
    where = f"after-{args.eval_split}{args.eval_limit}"
    out_dir = args.run / "mitigate" / ("ensemble-" + "+".join(args.members)) / where
    start = time.perf_counter()
    after = run_eval(backend, records, out_dir, max_new_tokens=cfg.eval_max_new_tokens, plots=False)
    after_lp = backend.first_token_logprobs(harmless)
    kl = mean_kl(base_lp, after_lp)
    b_rows, a_rows = read_rows(before_dir / "judged.jsonl"), read_rows(out_dir / "judged.jsonl")
    report_ids = report_frame_ids(held)
    result: dict[str, Any] = {
        "members": args.members, "guards": guards, "layer": layer, "eval_split": args.eval_split,
        "eval_limit": args.eval_limit, "before_dir": before_dir.name, "after_dir": str(out_dir.relative_to(args.run)),
        "seconds": round(time.perf_counter() - start, 1), "kl_harmless": round(kl, 5),
        "before": _group_metrics(b_rows, report_ids), "after": _group_metrics(a_rows, report_ids),
        "changes": verdict_changes(b_rows, a_rows),
        "overall_before": before["overall"], "overall_after": after["overall"],
    }  # fmt: skip
    result["paired"] = paired_tests(result["changes"])
    for side in ("before", "after"):
        core = refused(result[side], "morbench_core", "over_refusal")
        harm = harmful_refused(result[side])
        print(f"{side:6s} core benign refused {core[0]} of {core[1]}, harmful refused {harm[0]} of {harm[1]}")
    print(f"KL on harmless prompts {kl:.4f}; paired {result['paired']}")
    write_json(out_dir.parent / f"metrics-{args.eval_split}{args.eval_limit}.json", result)
    path = write(f"ensemble-{'+'.join(args.members)}-{args.name or args.run.name}-{args.eval_split}{args.eval_limit}",
                 {"run": str(args.run), "command": "python benchmarks/ensemble_eval.py " + " ".join(
                     [str(args.run), *args.members, "--eval-split", args.eval_split, "--eval-limit",
                      str(args.eval_limit)]), **result})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
