"""LayerCache: run a forward once, keep the stream entering layer L, then re-run only layers L.. end.

Steering at layer L leaves every layer below L unchanged, so a search over steering coefficients
only needs the upper layers for each new coefficient. The cache records the exact arguments each
upper layer received (masks, rotary embeddings), so it is architecture-agnostic; it checks itself
once (resumed logits with no steering must equal the full forward) and reports ``exact=False``
when a model does not fit the pattern, in which case callers fall back to full forwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rass.models.hooks import HookSet, _unwrap

if TYPE_CHECKING:
    import torch
    from torch import nn

    from rass.models.chat import ChatModel

_NORM_NAMES = ("norm", "final_layernorm", "ln_f", "final_layer_norm")


def _final_norm(model: nn.Module) -> nn.Module | None:
    decoder: Any = model.get_decoder() if hasattr(model, "get_decoder") else None  # type: ignore[operator]
    for holder in (decoder, getattr(model, "model", None), getattr(model, "transformer", None)):
        for name in _NORM_NAMES:
            mod: Any = getattr(holder, name, None) if holder is not None else None
            if mod is not None:
                return mod
    return None


class LayerCache:
    """The residual stream entering ``layer`` for one left-padded batch of prompts."""

    def __init__(self, chat: ChatModel, prompts: Sequence[str], layer: int, *, atol: float = 1e-3) -> None:
        import torch

        self.chat = chat
        self.layer = layer
        self.enc = chat.encode(list(prompts))
        self.calls: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self.hidden: torch.Tensor | None = None

        def stash(i: int) -> Any:
            def pre_hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                if i == layer:
                    self.hidden = (args[0] if args else kwargs["hidden_states"]).detach().clone()
                self.calls[i] = (args[1:], {k: v for k, v in kwargs.items() if k != "hidden_states"})

            return pre_hook

        with torch.inference_mode(), HookSet(chat.model) as hooks:
            for i in range(layer, chat.n_layers):
                hooks.handles.append(chat.layers[i].register_forward_pre_hook(stash(i), with_kwargs=True))
            out = chat.model(**self._inputs(), use_cache=False, logits_to_keep=1)
        self.base_logits = out.logits[:, -1, :].float()
        self.norm = _final_norm(chat.model)
        self.exact = False
        if self.norm is not None and self.hidden is not None:
            zero = torch.zeros(self.hidden.shape[0], self.hidden.shape[-1])
            try:
                resumed = self.logits(zero)
                self.exact = bool(torch.allclose(resumed, self.base_logits, atol=atol, rtol=1e-3))
            except (TypeError, RuntimeError):
                self.exact = False

    def _inputs(self) -> dict[str, Any]:
        dev = self.chat.device
        return {
            "input_ids": self.enc.input_ids.to(dev),
            "attention_mask": self.enc.attention_mask.to(dev),
            "position_ids": self.enc.position_ids.to(dev),
        }

    def logits(self, delta: torch.Tensor) -> torch.Tensor:
        """Last-position logits with ``delta[b]`` added to row b of the stream entering the layer."""
        import torch

        assert self.hidden is not None and self.norm is not None
        with torch.inference_mode():
            h = self.hidden + delta.to(self.hidden.device, self.hidden.dtype)[:, None, :]
            for i in range(self.layer, self.chat.n_layers):
                args, kwargs = self.calls[i]
                h = _unwrap(self.chat.layers[i](h, *args, **kwargs))
            h = self.norm(h[:, -1:, :])
            head: Any = self.chat.model.get_output_embeddings()
            return head(h)[:, -1, :].float()

    def full_logits(self, delta: torch.Tensor) -> torch.Tensor:
        """The same quantity from a whole forward with a steering hook (the uncached path)."""
        import torch

        def add(hidden: torch.Tensor) -> torch.Tensor:
            return hidden + delta.to(hidden.device, hidden.dtype)[:, None, :]

        with torch.inference_mode(), HookSet(self.chat.model) as hooks:
            hooks.edit_input(self.layer, add)
            out = self.chat.model(**self._inputs(), use_cache=False, logits_to_keep=1)
        return out.logits[:, -1, :].float()
