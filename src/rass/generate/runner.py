"""The generate stage: candidates from seeds, appended and flushed as they come, resumable.

``candidates.jsonl`` holds every unique candidate (a PromptRecord of kind ``candidate`` whose
``parent_id`` is its seed); ``progress.jsonl`` records which (seed, method) pairs are finished, so a
re-run after a crash continues without duplicates or losses; ``unparsed.jsonl`` keeps generator
outputs from which no list could be parsed (counted, never fatal).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.data.schema import PromptRecord
from rass.errors import DataError
from rass.generate.parse import parse_list
from rass.generate.rules import mention, mutate
from rass.generate.templates import rewrite_prompt, vary_prompt
from rass.runs import read_rows

if TYPE_CHECKING:
    from rass.directions.vector import SteeringVector
    from rass.models.chat import ChatModel

METHODS = ("llm", "steer", "rules")


@dataclass
class GenerateConfig:
    methods: list[str] = field(default_factory=lambda: ["llm", "rules"])
    per_seed: int = 5
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 220
    seed: int = 0
    steer_alpha: float = 1.0  # for "steer": subtract alpha x the refusal direction while generating
    batch_size: int = 8
    round: int = 0


def candidate_id(parent_id: str, text: str) -> str:
    return "cand-" + hashlib.sha1(f"{parent_id}\n{text.strip().lower()}".encode()).hexdigest()[:12]


class _Appender:
    """Append JSON lines and flush each batch, so a killed run loses at most the batch in flight."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("a", encoding="utf-8")

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


@dataclass
class GenerateStats:
    seeds: int = 0
    candidates: int = 0
    duplicates: int = 0
    unparsed: int = 0
    seeds_with_candidates: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def generate_candidates(
    chat: ChatModel | None,
    seeds: Sequence[PromptRecord],
    folder: Path,
    cfg: GenerateConfig,
    *,
    direction: SteeringVector | None = None,
    layer: int | None = None,
) -> GenerateStats:
    """Generate for every (seed, method) not yet finished; returns this call's statistics."""
    harmful = [s for s in seeds if s.label == "harmful"] if cfg.round == 0 else list(seeds)
    if not harmful:
        raise DataError("the seeds contain no harmful prompts; RASS rewrites harmful seeds into look-alikes")
    bad = [m for m in cfg.methods if m not in METHODS]
    if bad:
        raise DataError(f"unknown generation method {bad[0]!r}; use {', '.join(METHODS)}")
    if "steer" in cfg.methods and (direction is None or layer is None):
        raise DataError("steering-assisted generation needs a probe direction: run `rass probe` first")
    if chat is None and any(m != "rules" for m in cfg.methods):
        raise DataError("LLM generation needs a model")

    cand_path, prog_path, bad_path = (
        folder / "candidates.jsonl",
        folder / "progress.jsonl",
        folder / "unparsed.jsonl",
    )
    existing = {r["id"] for r in read_rows(cand_path)}
    prog_rows = read_rows(prog_path)
    done = {(p["seed_id"], p["method"]) for p in prog_rows}
    out, prog, unparsed = _Appender(cand_path), _Appender(prog_path), _Appender(bad_path)
    stats = GenerateStats(seeds=len(harmful))
    start = time.perf_counter()
    try:
        for method in cfg.methods:
            todo = [s for s in harmful if (s.id, method) not in done]
            stats.seeds_with_candidates[method] = sum(
                1 for p in prog_rows if p["method"] == method and p.get("candidates", 0) > 0
            )
            for i in range(0, len(todo), cfg.batch_size):
                batch = todo[i : i + cfg.batch_size]
                outputs = _run(chat, batch, method, cfg, direction, layer)
                rows, progress = [], []
                for seed, (raw, items) in zip(batch, outputs, strict=True):
                    if method != "rules" and not items:
                        stats.unparsed += 1
                        unparsed.write([{"seed_id": seed.id, "method": method, "output": raw}])
                    kept = 0
                    for kind, text in items:
                        cid = candidate_id(seed.id, text)
                        if cid in existing:
                            stats.duplicates += 1
                            continue
                        existing.add(cid)
                        kept += 1
                        meta = {
                            "generator": method,
                            "lookalike_type": kind,
                            "round": cfg.round,
                            "settings": _settings(cfg, method),
                        }
                        if method == "rules" and seed.text.strip() in text:
                            meta["mention"] = seed.text.strip()  # the quoted seed, for the gate's screen
                        rec = PromptRecord(cid, text, seed.lang, "benign", seed.category, "candidate",
                                           f"rass-generate:{method}", seed.id, seed.split, meta)  # fmt: skip
                        rows.append(rec.to_dict())
                    stats.candidates += kept
                    stats.seeds_with_candidates[method] += int(kept > 0)
                    progress.append({"seed_id": seed.id, "method": method, "candidates": kept})
                out.write(rows)
                prog.write(progress)
    finally:
        out.close()
        prog.close()
        unparsed.close()
    stats.seconds = time.perf_counter() - start
    return stats


def _settings(cfg: GenerateConfig, method: str) -> dict[str, Any]:
    if method == "rules":
        return {}
    s = {
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        "seed": cfg.seed,
    }
    if method == "steer":
        s["steer_alpha"] = cfg.steer_alpha
    return s


def _run(
    chat: ChatModel | None,
    batch: Sequence[PromptRecord],
    method: str,
    cfg: GenerateConfig,
    direction: SteeringVector | None,
    layer: int | None,
) -> list[tuple[str, list[tuple[str | None, str]]]]:
    """(raw output, [(look-alike type, text)]) per seed."""
    if method == "rules":
        return [("", [*(mutate(s.text) if s.lang.startswith("en") else []), *mention(s.text, s.lang)]) for s in batch]
    assert chat is not None
    make = rewrite_prompt if cfg.round == 0 else vary_prompt
    prompts = [make(s.text, s.lang, cfg.per_seed) for s in batch]
    kwargs = dict(max_new_tokens=cfg.max_new_tokens, do_sample=True, temperature=cfg.temperature,
                  top_p=cfg.top_p, seed=cfg.seed, batch_size=cfg.batch_size)  # fmt: skip
    if method == "steer":
        assert direction is not None and layer is not None
        with chat.steer(direction.layer_vectors[layer], -cfg.steer_alpha, layers=[layer]):
            outputs = chat.generate(prompts, **kwargs)  # type: ignore[arg-type]
    else:
        outputs = chat.generate(prompts, **kwargs)  # type: ignore[arg-type]
    return [(o, [(None, t) for t in parse_list(o)[: cfg.per_seed]]) for o in outputs]


def load_candidates(folder: Path) -> list[PromptRecord]:
    return [PromptRecord.from_dict(r) for r in read_rows(folder / "candidates.jsonl")]


def stats_dict(stats: GenerateStats) -> dict[str, Any]:
    return asdict(stats)
