"""Attach a peft adapter to a loaded ChatModel, refusing one trained on another base model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.errors import DimensionMismatchError, ModelLoadError

if TYPE_CHECKING:
    from rass.models.chat import ChatModel


def check_base(chat: ChatModel, folder: Path) -> dict[str, Any]:
    """The adapter config of ``folder``, after checking rass trained it on ``chat``'s very weights."""
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"{folder} is not a peft adapter folder (no adapter_config.json)")
    config: dict[str, Any] = json.loads(config_path.read_text())
    base = config.get("rass_base_fingerprint")
    if base and base != chat.fingerprint:
        raise DimensionMismatchError(f"the adapter in {folder} was trained on another base model ({base})")
    return config


def attach_adapter(chat: ChatModel, folder: Path) -> None:
    """Wrap the model with the adapter in place (hooks and capture keep working through peft)."""
    check_base(chat, folder)
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelLoadError("adapters need peft: pip install 'rass[train]'") from None
    try:
        chat.model = PeftModel.from_pretrained(chat.model, str(folder)).eval()
    except (RuntimeError, ValueError) as exc:  # shape mismatches surface as RuntimeError
        raise DimensionMismatchError(f"the adapter in {folder} does not fit {chat.name}: {str(exc)[:200]}") from None
    from rass.models.hooks import find_layers

    chat.layers = find_layers(chat.model)
