"""Resolve a model SPEC into a loaded ChatModel.

A SPEC is a registry id (``qwen2.5-coder-1.5b-instruct``), a local Hugging Face folder, a hub id
(``org/name``, needs network or a warm HF cache) or ``tiny:llama`` / ``tiny:qwen2``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.errors import ModelLoadError, ModelNotPreparedError, UnknownModelError
from rass.models import registry

if TYPE_CHECKING:
    from rass.models.chat import ChatModel

TINY_PREFIX = "tiny:"


def describe(spec: str) -> str:
    """What kind of SPEC this is: ``tiny``, ``registry``, ``folder`` or ``hub``; typed error if none."""
    if spec.startswith(TINY_PREFIX):
        from rass.models.tiny import FAMILIES

        family = spec[len(TINY_PREFIX) :]
        if family not in FAMILIES:
            raise UnknownModelError(
                f"unknown tiny family {family!r}; use one of: " + ", ".join(TINY_PREFIX + f for f in FAMILIES)
            )
        return "tiny"
    if spec in registry.REGISTRY:
        return "registry"
    if Path(spec).expanduser().is_dir():
        return "folder"
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")) and " " not in spec:
        return "hub"
    known = ", ".join([*registry.REGISTRY, "tiny:llama", "tiny:qwen2"])
    raise UnknownModelError(
        f"unknown model {spec!r}: not a registry id, a local folder or a hub id; known ids: {known}"
    )


def check_spec(spec: str) -> None:
    """Fail now, without loading anything, if ``spec`` cannot load: unknown, unprepared or not a model folder.

    Commands that load several models (a target, a teacher, a rubric judge) call this for every SPEC
    first, so a typo in the last one is not reported after minutes of loading the first.
    """
    if describe(spec) != "tiny":
        model_source(spec)


def folder_fingerprint(folder: Path) -> str:
    """Cheap identity of a model folder: its config plus the names and sizes of its weight files."""
    h = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        h.update(config.read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return "folder-sha256:" + h.hexdigest()[:16]


def _pick_device(device: str) -> str:
    import torch

    from rass.launch import launched, local_rank

    if launched() and device in ("auto", "cuda") and torch.cuda.is_available():
        # data parallel under accelerate launch: one whole copy per process on its own GPU, never
        # device_map="auto" spreading every process's copy over all of them
        return f"cuda:{local_rank()}"
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _pick_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        # No bf16 compute on these CPUs; GPUs get bf16.
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return getattr(torch, dtype)
    except AttributeError:
        raise ModelLoadError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16") from None


def _set_threads(threads: int | None) -> None:
    import torch

    threads = threads or int(os.environ.get("RASS_THREADS", "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)


def model_source(spec: str) -> tuple[str, str]:
    """(folder or hub id to load from, fingerprint) for a registry id, folder or hub id SPEC.

    Shared by the transformers loader and other engines (vLLM), so every backend reads the same
    weights for the same SPEC.
    """
    kind = describe(spec)
    if kind == "tiny":
        raise ModelLoadError(f"{spec} is built in memory and has no folder; this backend needs a real model")
    if kind == "registry":
        from rass.models.prepare import prepared_dir, read_manifest

        entry = registry.get(spec)
        if read_manifest(entry) is None:
            raise ModelNotPreparedError(f"{spec} is not prepared yet; run: rass models prepare {spec}")
        return str(prepared_dir(entry)), "gguf-sha256:" + entry.sha256
    if kind == "folder":
        folder = Path(spec).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"{folder} has no config.json; is it a Hugging Face model folder?")
        return str(folder), folder_fingerprint(folder)
    return spec, "hub:" + spec


@dataclass(frozen=True)
class ModelRef:
    """A model known by its SPEC and fingerprint, its weights not loaded: enough for a process that only
    reads caches keyed by them (a teacher or rubric outside the main process of ``accelerate launch``)."""

    name: str
    fingerprint: str

    @classmethod
    def of(cls, spec: str, seed: int = 0) -> ModelRef:
        """The reference ``load_model(spec, seed=seed)`` would give the same name and fingerprint."""
        return cls(spec, f"{spec}:seed{seed}" if describe(spec) == "tiny" else model_source(spec)[1])


def load_model(
    spec: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    threads: int | None = None,
    system_prompt: str | None = None,
    batch_size: int = 8,
    progress: bool = True,
    seed: int = 0,
) -> ChatModel:
    """Load ``spec`` as a ChatModel on ``device`` (``auto``: CUDA when present, else CPU)."""
    from rass.models.chat import ChatModel

    kind = describe(spec)
    _set_threads(threads)
    if kind == "tiny":
        from rass.models.tiny import build

        family = spec[len(TINY_PREFIX) :]
        model, tokenizer = build(family, seed=seed)
        return ChatModel(
            model,
            tokenizer,
            name=spec,
            fingerprint=ModelRef.of(spec, seed).fingerprint,
            system_prompt=system_prompt,
            batch_size=batch_size,
            progress=progress,
        )
    folder, fingerprint = model_source(spec)
    dev = _pick_device(device)
    model, tokenizer = _from_pretrained(folder, dev, _pick_dtype(dtype, dev))
    return ChatModel(
        model,
        tokenizer,
        name=spec,
        fingerprint=fingerprint,
        system_prompt=system_prompt,
        batch_size=batch_size,
        progress=progress,
    )


def _tokenizer_class(source: str) -> Any:
    """AutoTokenizer, unless the folder names a generic fast tokenizer.

    transformers 5 maps a folder to the tokenizer of its ``model_type`` even when the saved
    ``tokenizer_class`` is the generic backend, which rebuilds a wrong vocabulary (seen on a saved
    word-level tokenizer); honour the saved class instead.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    cfg = Path(source) / "tokenizer_config.json"
    if cfg.is_file():
        saved = json.loads(cfg.read_text()).get("tokenizer_class")
        if saved in ("TokenizersBackend", "PreTrainedTokenizerFast"):
            return PreTrainedTokenizerFast
    return AutoTokenizer


def _from_pretrained(source: str, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype}
    if device == "cuda":
        kwargs["device_map"] = "auto"  # spreads a large model over every visible GPU
    try:
        tokenizer = _tokenizer_class(source).from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"could not load model {source!r}: {first}") from None
    if device not in ("cuda",):
        model = model.to(device)  # type: ignore[arg-type]
    return model, tokenizer
