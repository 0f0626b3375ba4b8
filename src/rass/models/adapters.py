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


SCALE_STAMP = "rass_adapter_scale"  # adapter_config.json key of an adapter saved scaled (scale_adapter)


def scale_adapter(chat: ChatModel, scale: float, out: Path) -> dict[str, Any]:
    """Multiply the active LoRA adapter's weight change by ``scale`` in place and save it so to ``out``.

    Both are exact: in memory each LoRA layer's scaling is multiplied; on disk the ``lora_B`` factors
    are, so loading ``out`` anywhere (peft, vLLM, a merge) gives the same model without knowing the scale.
    """
    import shutil

    from safetensors.torch import load_file, save_file

    if not scale > 0:
        raise ModelLoadError(f"an adapter scale must be above 0, got {scale}")
    layers = [m for m in chat.model.modules() if hasattr(m, "scale_layer") and hasattr(m, "lora_B")]
    if not layers:
        raise ModelLoadError(f"{chat.name} has no LoRA adapter active to scale")
    for m in layers:
        m.scale_layer(scale)
    tmp = out.with_name(out.name + ".partial")
    for stale in (tmp, out):  # cut short before, or another scale's
        if stale.exists():
            shutil.rmtree(stale)
    chat.model.save_pretrained(str(tmp))
    weights = tmp / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    save_file({k: (v * scale).to(v.dtype) if ".lora_B." in k else v for k, v in tensors.items()}, str(weights))
    conf = json.loads((tmp / "adapter_config.json").read_text())
    conf |= {"rass_base_fingerprint": chat.fingerprint, SCALE_STAMP: scale}
    (tmp / "adapter_config.json").write_text(json.dumps(conf, indent=2))
    tmp.replace(out)  # never a half-written adapter under the name a user loads
    return {"scale": scale, "layers": len(layers), "adapter": str(out)}
