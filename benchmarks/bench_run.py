"""Per-stage wall time of ``rass run`` for a profile, read from the run's manifest (P4).

python benchmarks/bench_run.py --profile quick --out /tmp/rass-quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "rass.cli.main", "run", "--profile", args.profile, "--out", str(args.out)]
    if args.model:
        cmd += ["--model", args.model]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    total = time.perf_counter() - start
    manifest = json.loads((args.out / "manifest.json").read_text())
    stages = {k: v.get("seconds") for k, v in manifest["stages"].items()}
    name = f"run-{args.profile}" + (f"-{args.model.replace(':', '-')}" if args.model else "")
    path = write(
        name,
        {
            "profile": args.profile,
            "model": manifest["config"]["model"],
            "total_s": round(total, 1),
            "stages_s": stages,
            "config": manifest["config"],
            "git": manifest.get("git"),
        },
    )
    print(
        f"rass run --profile {args.profile}: {total:.0f} s in all; "
        + ", ".join(f"{k} {v}s" for k, v in stages.items())
        + f" → {path}"
    )


if __name__ == "__main__":
    main()
