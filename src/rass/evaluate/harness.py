"""run_eval: generate (resumable) → judge → metrics → plots, for any benchmark file or folder.

``responses.jsonl`` is appended and flushed chunk by chunk, so a killed evaluation continues with
the items it had not answered; judging and metrics are recomputed from it and written atomically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.errors import EmptyInputError
from rass.evaluate.metrics import compute
from rass.runs import read_rows, write_json

if TYPE_CHECKING:
    from rass.data.schema import PromptRecord
    from rass.evaluate.backends import Backend
    from rass.judge.logit import RefusalScorer


def _done(path: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in read_rows(path)}  # a line cut by a crash: that item is answered again


def run_eval(
    backend: Backend,
    records: Sequence[PromptRecord],
    folder: Path,
    *,
    judge: str = "string",
    logit_chat: RefusalScorer | None = None,
    max_new_tokens: int = 128,
    batch_size: int = 16,
    chunk: int = 64,
    plots: bool = True,
) -> dict[str, Any]:
    """Answer every record, judge the answers, and write ``metrics.json`` (+ plots) into ``folder``."""
    from rass.judge.base import JudgeItem, get_judge

    if not records:
        raise EmptyInputError("the benchmark has no items")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "responses.jsonl"
    done = _done(path)
    todo = [r for r in records if r.id not in done]
    start = time.perf_counter()
    with path.open("a", encoding="utf-8") as f:
        for i in range(0, len(todo), chunk):
            part = todo[i : i + chunk]
            replies = backend.generate([r.text for r in part], max_new_tokens=max_new_tokens, batch_size=batch_size)
            for r, reply in zip(part, replies, strict=True):
                row: dict[str, Any] = {
                    "id": r.id,
                    "lang": r.lang,
                    "label": r.label,
                    "category": r.category,
                    "kind": r.kind,
                    "prompt": r.text,
                    "response": reply,
                }
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                done[r.id] = row
            f.flush()
    gen_s = time.perf_counter() - start
    rows = [done[r.id] for r in records]
    verdicts = get_judge(judge).judge([JudgeItem(r["prompt"], r["response"], r["lang"]) for r in rows])
    for row, v in zip(rows, verdicts, strict=True):
        row["judgement"] = v.to_dict()
        row["refused"] = v.refused
    if logit_chat is not None:
        from rass.judge.logit import LogitJudge

        lj = LogitJudge(logit_chat)
        for row, v in zip(rows, lj.judge([JudgeItem(r["prompt"], "", r["lang"]) for r in rows]), strict=True):
            row["refused_logit"] = v.refused
            row["refusal_score"] = v.score
    from rass.data.io import write_jsonl

    write_jsonl(folder / "judged.jsonl", rows)
    metrics = compute(rows)
    metrics["run"] = {
        "backend": backend.name,
        "judge": judge,
        "items": len(rows),
        "generated_now": len(todo),
        "generation_seconds": round(gen_s, 2),
        "max_new_tokens": max_new_tokens,
    }
    write_json(folder / "metrics.json", metrics)
    if plots:
        from rass.evaluate.plots import language_bars

        language_bars(metrics, folder / "by_language.png")
    return metrics
