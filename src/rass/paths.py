"""Where rass keeps its cache: ``$RASS_HOME`` or ``~/.cache/rass``."""

from __future__ import annotations

import os
from pathlib import Path


def rass_home() -> Path:
    """The cache root; created on first use."""
    root = Path(os.environ.get("RASS_HOME") or Path.home() / ".cache" / "rass").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    path = rass_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
