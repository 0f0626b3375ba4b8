"""Per-stage wall time of ``rass run`` for a profile, read from the run's manifest (P4).

python benchmarks/bench_run.py --profile quick --out /tmp/rass-quick
python benchmarks/bench_run.py --out /tmp/demo/runs/demo --existing   # e.g. after make demo

With ``--existing`` the run is not started: a finished run's manifest is read, and the total is the sum of its
stages (no model loading or install around them); the profile is the run's own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from _common import one_line_errors, write


def main() -> None:
    from rass.errors import RassError
    from rass.runs import RunDir

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--existing", action="store_true", help="read a finished run in --out instead of running one")
    args = ap.parse_args()
    if args.existing:
        run = RunDir.existing(args.out, first="rass run --profile PROFILE --out RUN")
        undone = [k for k in run.manifest["stages"] if not run.is_done(k)]
        if undone:
            raise RassError(f"{args.out} is not finished: stage(s) {', '.join(undone)} not done")
        total = sum(float(v.get("seconds") or 0) for v in run.manifest["stages"].values())
        args.profile = run.manifest["config"].get("profile", args.profile)
    else:
        cmd = [sys.executable, "-m", "rass.cli.main", "run", "--profile", args.profile, "--out", str(args.out)]
        if args.model:
            cmd += ["--model", args.model]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        total = time.perf_counter() - start
        run = RunDir.existing(args.out)
    manifest = run.manifest
    stages = {k: v.get("seconds") for k, v in manifest["stages"].items()}
    name = f"run-{args.profile}" + (f"-{args.model.replace(':', '-')}" if args.model else "")
    path = write(
        name,
        {
            "profile": args.profile,
            "model": manifest["config"]["model"],
            "total_s": round(total, 1),
            "total_is": "sum of the stages of an existing run" if args.existing else "wall time of rass run",
            "stages_s": stages,
            "config": manifest["config"],
            "git": manifest.get("git_sha"),
            "created": manifest.get("created"),
        },
    )
    print(
        f"rass run --profile {args.profile}: {total:.0f} s in all; "
        + ", ".join(f"{k} {v}s" for k, v in stages.items())
        + f" → {path}"
    )


if __name__ == "__main__":
    one_line_errors(main)
