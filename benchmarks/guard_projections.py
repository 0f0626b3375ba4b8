"""Where a guarded mitigation's evaluated items sit against its guard, per language.

The guard (``rass mitigate --guard Q``) steers inputs whose projection under the trained adapter is above
one threshold: the Q quantile of benign train prompts the training never saw. On the test, Chinese
look-alikes were refused in the guard's wording although validation's were not; a threshold per language
would help only if each language's benign items sit below its own reference quantile. This measures it:
the adapter alone (no hook), the guard's reference prompts and every evaluated item of the folder's
"after" answers, projected at the guard's layer, with the judge's verdict of the guarded answer.

    python benchmarks/guard_projections.py runs/demo/mitigate/sft-lpool-guard99 --model qwen2.5-coder-1.5b-instruct
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from _common import write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="RUN/mitigate/NAME, evaluated with --guard")
    ap.add_argument("--model", required=True)
    args = ap.parse_args()

    from rass.data.seeds import load_seeds
    from rass.directions.vector import SteeringVector
    from rass.mitigate.apply import read_mitigation
    from rass.mitigate.guard import guard_reference
    from rass.models.adapters import attach_adapter
    from rass.models.chat import ChatModel
    from rass.runs import read_json, read_rows

    folder: Path = args.folder
    applied = read_mitigation(folder)
    if applied.band_kind != "guard" or applied.adapter is None:
        raise SystemExit(f"{folder} was not evaluated with a guard")
    guard = read_json(folder / "guard.json")
    rows = [r for part in ("comply", "anchors", "retain") for r in read_rows(folder / "data" / f"{part}.jsonl")]
    evaluated: dict[str, list[dict[str, Any]]] = {}
    for name, split in (("metrics.json", "test"), ("metrics-validation.json", "validation")):
        if (folder / name).is_file():
            evaluated[split] = read_rows(folder / read_json(folder / name)["after_dir"] / "judged.jsonl")
    langs = sorted({r["lang"] for items in evaluated.values() for r in items})
    reference = guard_reference(langs, [r["id"] for r in rows])
    lang_of = {r.text: r.lang for r in load_seeds(langs=langs, sets=["lookalike", "harmless"], splits=["train"])}

    chat = ChatModel.load(args.model, progress=False)
    attach_adapter(chat, applied.adapter)
    layer = int(guard["layer"])
    vector = SteeringVector.load(folder.parent.parent / "directions" / "directions.safetensors").layer_vectors[layer]
    unit = vector / vector.norm()
    site = f"resid_pre.{layer}"
    items = [(split, r) for split, rs in evaluated.items() for r in rs]
    texts = reference + [r["prompt"] for _, r in items]
    proj = (chat.forward(texts, sites=[site]).activations[site].float() @ unit.float()).tolist()
    ref_proj, item_proj = proj[: len(reference)], proj[len(reference) :]

    q = float(guard["quantile"])
    per_lang = {}
    for lang in langs:
        mine = [p for t, p in zip(reference, ref_proj, strict=True) if lang_of.get(t) == lang]
        per_lang[lang] = {"n": len(mine), f"q{q:g}": round(float(np.quantile(mine, q)), 3) if mine else None,
                          "max": round(max(mine), 3) if mine else None}  # fmt: skip
    threshold = float(guard["threshold"])
    summary: dict[str, Any] = {}
    for split in evaluated:
        for label in ("benign", "harmful"):
            for lang in langs:
                got = [(p, r["refused"]) for (s, r), p in zip(items, item_proj, strict=True)
                       if s == split and r["label"] == label and r["lang"] == lang]  # fmt: skip
                own = per_lang[lang][f"q{q:g}"]
                summary[f"{split}/{label}/{lang}"] = {
                    "n": len(got),
                    "refused": sum(f for _, f in got),
                    "above_threshold": sum(p > threshold for p, _ in got),
                    "refused_above_threshold": sum(f and p > threshold for p, f in got),
                    "above_own_language_quantile": None if own is None else sum(p > own for p, _ in got),
                    "projections_refused": sorted((round(p, 2) for p, f in got if f), reverse=True),
                }
    out = write(
        f"guard-projections-{folder.name}-{folder.parent.parent.name}-{args.model}",
        {"folder": str(folder), "model": args.model, "guard": guard, "reference_by_lang": per_lang,
         "items": summary},
    )  # fmt: skip
    print(out)
    for key, v in summary.items():
        print(f"{key:24s} n {v['n']:3d} refused {v['refused']:3d} above guard {v['above_threshold']:3d} "
              f"above own-language q {v['above_own_language_quantile']}")  # fmt: skip


if __name__ == "__main__":
    main()
