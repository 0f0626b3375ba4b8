"""Build MORBench folders: boundary prompts (benign, should be answered), their harmful contrasts
(should be refused) and harmless controls, in many languages, with a dataset card.

The folder loads with 🤗 datasets (``load_dataset(folder)``: one split per language, declared in
the card's YAML header) and with ``rass eval --bench FOLDER``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rass import __version__
from rass.bench.translate import Gates, Translator
from rass.data.io import write_jsonl
from rass.data.schema import PromptRecord
from rass.data.seeds import load_seeds
from rass.errors import DataError, RassError
from rass.runs import atomic_write_text

CORE_SPLITS = ("validation", "test")  # the train split stays free for mitigation training


def core_records(langs: Sequence[str] | None = None) -> list[PromptRecord]:
    """MORBench-core: the shipped parallel seeds (validation + test) as look-alikes, contrasts, controls."""
    kinds = {"lookalike": "lookalike", "harmful": "contrast", "harmless": "control"}
    out = []
    for s, kind in kinds.items():
        for r in load_seeds(langs=langs, sets=[s], splits=CORE_SPLITS):
            out.append(
                PromptRecord(
                    r.id,
                    r.text,
                    r.lang,
                    r.label,
                    r.category,
                    kind,
                    "morbench-core",
                    r.parent_id,
                    r.split,
                    r.meta,
                )
            )
    return out


def base_from_run(run_root: Path, controls_per_lang: int | None = None) -> tuple[list[PromptRecord], str | None]:
    """Selected boundary prompts, their harmful seeds as contrasts, and as many harmless controls."""
    path = run_root / "select" / "boundary.jsonl"
    if not path.is_file():
        raise RassError(f"{run_root} has no selection yet; run first: rass select --run {run_root}")
    fields = PromptRecord.__dataclass_fields__
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    boundary = [PromptRecord.from_dict({k: v for k, v in r.items() if k in fields}) for r in rows]
    if not boundary:
        raise RassError(f"{path} is empty: the selection kept nothing (see select/report.json)")
    seeds = {r.id: r for r in load_seeds()}
    contrasts = []
    for pid in dict.fromkeys(b.parent_id for b in boundary if b.parent_id in seeds):
        s = seeds[pid]
        contrasts.append(
            PromptRecord(s.id, s.text, s.lang, "harmful", s.category, "contrast", s.source, None, s.split, s.meta)
        )
    langs = sorted({b.lang for b in boundary})
    controls = []
    for lang in langs:
        pool = load_seeds(langs=[lang], sets=["harmless"], splits=CORE_SPLITS)
        n = controls_per_lang or sum(b.lang == lang for b in boundary)
        controls += [
            PromptRecord(c.id, c.text, c.lang, "benign", "none", "control", c.source, c.parent_id, c.split, c.meta)
            for c in pool[:n]
        ]
    manifest = run_root / "manifest.json"
    model = None
    if manifest.is_file():
        stages = json.loads(manifest.read_text()).get("stages", {})
        model = (stages.get("directions", {}).get("model") or {}).get("name")
    return [*boundary, *contrasts, *controls], model


def _by_parent(records: Sequence[PromptRecord]) -> dict[tuple[str, str], PromptRecord]:
    return {(r.parent_id, r.lang): r for r in records if r.parent_id}


def build(
    base: Sequence[PromptRecord],
    langs: Sequence[str],
    translator: Translator | None,
    *,
    gates: Gates | None = None,
) -> tuple[list[PromptRecord], dict[str, Any]]:
    """Every base record in every language: kept, taken from a native parallel, or translated."""
    gates = gates or Gates()
    parallels = _by_parent(load_seeds())
    out: list[PromptRecord] = []
    stats: dict[str, Any] = {}
    for lang in langs:
        st: Counter[str] = Counter()
        todo: list[PromptRecord] = []
        for r in base:
            seedlike = r.kind not in ("boundary", "candidate")  # candidates have no written parallels
            root = (r.id if r.lang == "en" else r.parent_id) if seedlike else None
            if r.lang == lang:
                out.append(r)
                st["native"] += 1
            elif root is not None and (root, lang) in parallels:
                p = parallels[(root, lang)]
                out.append(
                    PromptRecord(
                        f"{r.id}@{lang}",
                        p.text,
                        lang,
                        r.label,
                        r.category,
                        r.kind,
                        "parallel",
                        r.id,
                        r.split,
                        r.meta,
                    )
                )
                st["parallel"] += 1
            else:
                todo.append(r)
        if todo and translator is None:
            st["untranslated"] += len(todo)
        elif todo:
            assert translator is not None
            if lang != "en" and not translator.supports(lang):
                known = ", ".join(translator.known())
                raise RassError(f"the {translator.name} translator does not support {lang!r}; it supports: {known}")
            for src in sorted({r.lang for r in todo}):
                group = [r for r in todo if r.lang == src]
                if not translator.pair(src, lang):  # e.g. apertium has English<->X pairs only
                    st[f"dropped: no {src}->{lang} translation"] += len(group)
                    continue
                texts = translator.translate([r.text for r in group], lang, src)
                backs = translator.back(texts, lang, src)
                out += _gated(group, texts, backs, lang, translator.name, gates, st)
        stats[lang] = {"backend": translator.name if translator else "parallel", **st}
    return out, stats


def _gated(group: Sequence[PromptRecord], texts: Sequence[str], backs: Sequence[str] | None, lang: str,
           backend: str, gates: Gates, st: Counter[str]) -> list[PromptRecord]:  # fmt: skip
    """The translations that pass the quality gates, as records; failures counted in ``st``."""
    out = []
    for k, (r, t) in enumerate(zip(group, texts, strict=True)):
        why = gates.check(r.text, t, backs[k] if backs else None, lang)
        if why:
            st[f"dropped: {why.split(' ')[0] if why.startswith('length') else why}"] += 1
            continue
        meta = {**r.meta, "translated_by": backend, "source_text": r.text}
        out.append(PromptRecord(f"{r.id}@{lang}", t, lang, r.label, r.category, r.kind, backend, r.id, r.split, meta))
        st["translated"] += 1
    return out


def write_bench(records: Sequence[PromptRecord], folder: Path, *, name: str, how: str, model: str | None,
                stats: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Write ``data/{lang}.jsonl`` plus the card, into a temp folder renamed into place."""
    import shutil

    if not records:
        raise DataError("nothing to write: the benchmark is empty")
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    langs = sorted({r.lang for r in records})
    for lang in langs:
        write_jsonl(tmp / "data" / f"{lang}.jsonl", [r for r in records if r.lang == lang])
    atomic_write_text(tmp / "README.md", card(records, name=name, how=how, model=model, stats=stats or {}))
    info = {
        "name": name,
        "version": __version__,
        "langs": langs,
        "items": len(records),
        "model": model,
        "stats": stats,
    }
    atomic_write_text(tmp / "morbench.json", json.dumps(info, indent=2, ensure_ascii=False))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.replace(folder)
    return folder


def card(records: Sequence[PromptRecord], *, name: str, how: str, model: str | None, stats: dict[str, Any]) -> str:
    langs = sorted({r.lang for r in records})
    yaml = "---\nconfigs:\n- config_name: default\n  data_files:\n" + "".join(
        f"  - split: {lang}\n    path: data/{lang}.jsonl\n" for lang in langs
    ) + "---\n"  # fmt: skip
    counts = Counter((r.lang, r.label, r.kind) for r in records)
    table = "| language | label | kind | items |\n|---|---|---|---|\n" + "".join(
        f"| {lang} | {label} | {kind} | {n} |\n" for (lang, label, kind), n in sorted(counts.items())
    )  # fmt: skip
    cats = Counter((r.label, r.category) for r in records)
    cat_table = "| label | category | items |\n|---|---|---|\n" + "".join(
        f"| {label} | {cat} | {n} |\n" for (label, cat), n in sorted(cats.items())
    )  # fmt: skip
    backend = (
        "".join(f"- {lang}: {json.dumps(s, ensure_ascii=False)}\n" for lang, s in sorted(stats.items()))
        or "- native texts only\n"
    )
    return f"""{yaml}
# {name}

A multilingual over-refusal benchmark built by rass {__version__} on {time.strftime("%Y-%m-%d")}.
Benign items (`label: benign`, kinds `boundary`/`lookalike`/`control`) should be answered;
harmful items (`label: harmful`, kind `contrast`) should be refused. Harmful items are requests
only; the benchmark contains no harmful content.

- Boundary of: {model or "no particular model (built from the shipped seed sets)"}
- How it was built: {how}
- Languages: {", ".join(langs)}; {len(records)} items

## Counts

{table}
{cat_table}
## Translation per language (items kept or dropped at the quality gates)

{backend}
## Known limitations

- Seeds, look-alikes and contrasts were written by the rass authors, not by native speakers of
  every language; machine-translated items (apertium, llm) are rough and were filtered by a
  language check, a length ratio and back-translation similarity, not read by a person.
- Boundary prompts sit on *one* model's boundary; other models may find them easy.
- Labels say what a well-aligned assistant should do; some look-alikes touch sensitive topics.

Load with `datasets.load_dataset("path/to/folder")` (one split per language) or evaluate with
`rass eval --bench path/to/folder --model SPEC`.
"""


def load_bench(folder: Path) -> list[PromptRecord]:
    """Read a MORBench folder, checking its card and schema."""
    from rass.data.io import read_jsonl

    if not (folder / "README.md").is_file() or not (folder / "morbench.json").is_file():
        raise DataError(f"{folder} is not a MORBench folder (README.md card or morbench.json missing)")
    files = sorted((folder / "data").glob("*.jsonl"))
    if not files:
        raise DataError(f"{folder}/data holds no language files")
    return [r for f in files for r in read_jsonl(f)]
