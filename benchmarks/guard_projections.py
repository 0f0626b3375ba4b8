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


def project(folder: Path, model: str) -> dict[str, Any]:
    """The guard of ``folder``, its reference prompts and every evaluated item (by split, with its guarded
    verdict), each with its projection under the adapter alone at the guard's layer.

    Checked against the evaluation before anything is read from it: as many reference prompts as the guard
    was fitted on, and the guard's own quantile of them at its threshold (else another adapter or model).
    """
    from rass.directions.vector import SteeringVector
    from rass.errors import RassError
    from rass.mitigate.apply import read_mitigation
    from rass.mitigate.guard import guard_reference
    from rass.models.adapters import attach_adapter
    from rass.models.chat import ChatModel
    from rass.runs import read_json, read_rows

    applied = read_mitigation(folder)
    if applied.band_kind != "guard" or applied.adapter is None:
        raise RassError(f"{folder} was not evaluated with a guard")
    guard = read_json(folder / "guard.json")
    rows = [r for part in ("comply", "anchors", "retain") for r in read_rows(folder / "data" / f"{part}.jsonl")]
    evaluated: dict[str, list[dict[str, Any]]] = {}
    for name, split in (("metrics.json", "test"), ("metrics-validation.json", "validation")):
        if (folder / name).is_file():
            evaluated[split] = read_rows(folder / read_json(folder / name)["after_dir"] / "judged.jsonl")
    langs = sorted({r["lang"] for items in evaluated.values() for r in items})
    reference = guard_reference(langs, [r["id"] for r in rows])
    if len(reference) != guard["reference_prompts"]:
        raise RassError(f"{len(reference)} reference prompts now, {guard['reference_prompts']} when the guard "
                        "was fitted: the seeds or the training rows changed")  # fmt: skip

    chat = ChatModel.load(model, progress=False)
    attach_adapter(chat, applied.adapter)
    layer = int(guard["layer"])
    vector = SteeringVector.load(folder.parent.parent / "directions" / "directions.safetensors").layer_vectors[layer]
    unit = vector / vector.norm()
    site = f"resid_pre.{layer}"
    items = [(split, r) for split, rs in evaluated.items() for r in rs]
    texts = reference + [r["prompt"] for _, r in items]
    proj = (chat.forward(texts, sites=[site]).activations[site].float() @ unit.float()).tolist()
    ref_proj = proj[: len(reference)]
    refit = float(np.quantile(ref_proj, float(guard["quantile"])))
    threshold = float(guard["threshold"])
    if abs(refit - threshold) > 1e-3 * max(1.0, abs(threshold)):
        raise RassError(f"the reference puts quantile {guard['quantile']} at {refit:.4f}, the guard was fitted at "
                        f"{threshold}: another adapter or model than the evaluated one")  # fmt: skip
    by_split: dict[str, list[dict[str, Any]]] = {split: [] for split in evaluated}
    for (split, r), p in zip(items, proj[len(reference) :], strict=True):
        by_split[split].append(r | {"proj": p})
    return {"guard": guard, "refit": refit, "langs": langs, "reference": reference, "ref_proj": ref_proj,
            "items": by_split}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="RUN/mitigate/NAME, evaluated with --guard")
    ap.add_argument("--model", required=True)
    args = ap.parse_args()

    from rass.data.seeds import load_seeds
    from rass.errors import RassError

    folder: Path = args.folder
    try:
        got = project(folder, args.model)
    except RassError as exc:  # a wrong folder or model: one line, no traceback
        raise SystemExit(f"error: {exc}") from None
    guard, langs, reference, ref_proj = got["guard"], got["langs"], got["reference"], got["ref_proj"]
    lang_of = {r.text: r.lang for r in load_seeds(langs=langs, sets=["lookalike", "harmless"], splits=["train"])}

    q = float(guard["quantile"])
    per_lang = {}
    for lang in langs:
        mine = [p for t, p in zip(reference, ref_proj, strict=True) if lang_of.get(t) == lang]
        per_lang[lang] = {"n": len(mine), f"q{q:g}": round(float(np.quantile(mine, q)), 3) if mine else None,
                          "max": round(max(mine), 3) if mine else None}  # fmt: skip
    threshold = float(guard["threshold"])
    summary: dict[str, Any] = {}
    for split, items in got["items"].items():
        for label in ("benign", "harmful"):
            for lang in langs:
                pairs = [(r["proj"], r["refused"]) for r in items if r["label"] == label and r["lang"] == lang]
                own = per_lang[lang][f"q{q:g}"]
                summary[f"{split}/{label}/{lang}"] = {
                    "n": len(pairs),
                    "refused": sum(f for _, f in pairs),
                    "above_threshold": sum(p > threshold for p, _ in pairs),
                    "refused_above_threshold": sum(f and p > threshold for p, f in pairs),
                    "above_own_language_quantile": None if own is None else sum(p > own for p, _ in pairs),
                    "projections_refused": sorted((round(p, 2) for p, f in pairs if f), reverse=True),
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
