"""RunDir: one folder per run, one sub-folder per stage, a manifest, atomic writes and resume.

A stage is finished when the manifest says ``done`` for the same config; re-running it is then a
no-op unless forced. Files are written to a temporary name and renamed, so a killed run never
leaves a half-written artifact that looks complete.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from rass import __version__


def atomic_write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def content_key(obj: Any, length: int = 16) -> str:
    """A short stable digest of JSON-able settings: names folders and stamps that must not be mixed up."""
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


def stable_fields(fields: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` less those at their ``before`` value: the value that behaves as before the field existed.

    A key built from settings must not move when a setting is added, or every cache, checkpoint and
    evaluation made before it would be rebuilt (or refused) for nothing.
    """
    return {k: v for k, v in fields.items() if k not in before or before[k] != v}


def read_json_if(path: Path) -> Any:
    """A run artifact, or None when that stage has not written it (yet)."""
    return read_json(path) if path.is_file() else None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file the run wrote; [] when missing. A last line cut by a kill is dropped
    (its item is redone on resume)."""
    if not path.is_file():
        return []
    rows = []
    for line in filter(str.strip, path.read_text(encoding="utf-8").splitlines()):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).parent, check=False,
        )  # fmt: skip
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"rass": __version__, "python": platform.python_version()}
    for pkg in ("torch", "transformers", "numpy", "peft", "trl"):
        with suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


class RunDir:
    """A run folder: ``manifest.json`` plus ``<stage>/`` sub-folders."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.root / "manifest.json"
        if self.manifest_path.is_file():
            self.manifest: dict[str, Any] = read_json(self.manifest_path)
        else:
            self.manifest = {
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "git_sha": _git_sha(),
                "versions": _versions(),
                "stages": {},
            }
            self.save()

    @classmethod
    def existing(cls, root: str | Path, first: str = "rass probe --model SPEC --out RUN") -> RunDir:
        """Open a run that must already exist (commands that consume a run never create one)."""
        from rass.errors import RassError

        if not (Path(root) / "manifest.json").is_file():
            raise RassError(f"{root} is not a rass run folder; create it first with: {first}")
        return cls(root)

    def save(self) -> None:
        write_json(self.manifest_path, self.manifest)

    def path(self, stage: str, name: str = "") -> Path:
        folder = self.root / stage
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name if name else folder

    def is_done(self, stage: str, config: dict[str, Any] | None = None) -> bool:
        entry = self.manifest["stages"].get(stage)
        if not entry or entry.get("status") != "done":
            return False
        return config is None or entry.get("config") == json.loads(json.dumps(config, default=_jsonable))

    @contextmanager
    def stage(self, name: str, config: dict[str, Any], model: dict[str, Any] | None = None) -> Iterator[Path]:
        """Mark a stage running, yield its folder, mark it done (or failed) with its timing."""
        entry: dict[str, Any] = {
            "status": "running",
            "config": json.loads(json.dumps(config, default=_jsonable)),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if model:
            entry["model"] = model
        # a resumed stage (same config) reports the time of every attempt, not only the last, quick one
        before = self.manifest["stages"].get(name) or {}
        spent = float(before.get("seconds") or 0.0) if before.get("config") == entry["config"] else 0.0
        if spent:
            entry["attempts"] = int(before.get("attempts", 1)) + 1
        self.manifest["stages"][name] = entry
        self.save()
        start = time.perf_counter()
        try:
            yield self.path(name)
        except BaseException as exc:
            entry.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
            entry["seconds"] = round(spent + time.perf_counter() - start, 2)
            self.save()
            raise
        entry.update(status="done", seconds=round(spent + time.perf_counter() - start, 2))
        entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.save()
