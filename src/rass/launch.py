"""Several processes started by ``accelerate launch`` (or torchrun): which one does what.

trl's trainers are accelerate-native, so LoRA training runs in every process as data parallel. The rest
of ``rass mitigate`` is not: building the training data and the before/after evaluations run once, in
the main process, while the others wait; only the main process writes. Outside such a launch every
helper here is a no-op and nothing from accelerate is imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rass.errors import RassError

# the other processes wait while the main one builds data and evaluates: hours for a large model,
# far past torch's default collective timeout (10-30 min), after which a waiting process would abort
WAIT = timedelta(hours=12)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def launched() -> bool:
    """True inside a multi-process launch (accelerate launch / torchrun set WORLD_SIZE)."""
    return world_size() > 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def _state() -> Any:
    import torch

    try:
        from accelerate import PartialState
    except ImportError:
        raise RassError("a multi-process launch needs accelerate: pip install 'rass[train]'") from None

    # the first PartialState sets up the process group and transformers' Trainer reuses it; without
    # cpu=True accelerate sees no distributed launch on CPUs and every process thinks it is the main one
    return PartialState(cpu=not torch.cuda.is_available(), timeout=WAIT)


def is_main() -> bool:
    return not launched() or bool(_state().is_main_process)


def wait() -> None:
    """Every process waits here until all have arrived."""
    if launched():
        _state().wait_for_everyone()


@contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (e.g. builds a cache); the others run it after."""
    if not launched():
        yield
        return
    with _state().main_process_first():
        yield
