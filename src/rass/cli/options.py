"""Options shared by every command that loads a model."""

from __future__ import annotations

from typing import Annotated

import typer

from rass.models.registry import DEFAULT_MODEL_ID

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Model SPEC: registry id, local HF folder, hub id (org/name) or tiny:llama / tiny:qwen2.",
    ),
]
DEFAULT_MODEL = DEFAULT_MODEL_ID
DeviceOpt = Annotated[str, typer.Option(help="auto (CUDA if present), cpu, cuda, cuda:1, mps.")]
DtypeOpt = Annotated[str, typer.Option(help="auto (fp32 on CPU, bf16 on GPU), float32, bfloat16, float16.")]
ThreadsOpt = Annotated[int, typer.Option(help="CPU threads for torch (0: torch's default).")]
