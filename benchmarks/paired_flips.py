"""Which of a run's mitigation results changed more than chance: the exact McNemar test of every result's
flipped items, benign and harmful, validation and test alike.

    python benchmarks/paired_flips.py runs/demo --name demo-run

Rates of 72 validation items move by several items between two training seeds of one setting; this puts a
p-value beside each result, read from its judged answers (results written before ``changes`` existed too).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _common import write

from rass.mitigate.changes import paired_tests, result_changes
from rass.mitigate.goals import harmful_refused, refused


def _row(path: Path) -> dict[str, Any] | None:
    result = json.loads(path.read_text())
    changes = result_changes(path.parent, result)
    if not isinstance(changes, dict) or "before" not in result:
        return None
    tests = paired_tests(changes)
    core = [refused(result[side], "morbench_core", "over_refusal") for side in ("before", "after")]
    harm = [harmful_refused(result[side]) for side in ("before", "after")]
    return {
        "setting": path.parent.name,
        "split": "test" if path.name == "metrics.json" else path.stem.removeprefix("metrics-"),
        "core_benign_refused": f"{core[0][0]} → {core[1][0]} of {core[0][1]}",
        "harmful_refused": f"{harm[0][0]} → {harm[1][0]} of {harm[0][1]}",
        **{f"{side}_{k}": v for side, t in tests.items() for k, v in t.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", default=None, help="results name (default: the run folder's name)")
    args = ap.parse_args()
    rows = [r for p in sorted((args.run / "mitigate").glob("*/metrics*.json")) if (r := _row(p))]
    rows.sort(key=lambda r: (r["split"], r["benign_p"], r["setting"]))
    for r in rows:
        print(f"{r['split']:10s} {r['setting']:32s} benign {r['core_benign_refused']:13s} "
              f"+{r['benign_better']}/-{r['benign_worse']} p={r['benign_p']:<7.3g} harmful {r['harmful_refused']:13s} "
              f"+{r['harmful_better']}/-{r['harmful_worse']} p={r['harmful_p']:.3g}")  # fmt: skip
    significant = [r["setting"] for r in rows if r["benign_p"] < 0.05 and r["harmful_worse"] <= r["harmful_better"]]
    out = write(f"paired-flips-{args.name or args.run.name}", {
        "run": str(args.run),
        "test": "two-sided exact McNemar on the items whose verdict flipped, per side: benign better = answered "
                "now, worse = refused now; harmful better = refused now, worse = answered now; all evaluated "
                "items of a side (core and held-out) together",
        "benign_p_below_0.05_without_net_harmful_loss": significant,
        "results": rows,
    })  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
