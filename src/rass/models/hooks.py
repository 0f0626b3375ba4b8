"""Forward hooks on decoder layers: capture, additive steering and directional ablation.

Sites are named like TransformerLens: ``resid_pre.{L}`` is the residual stream entering layer L,
``resid_post.{L}`` the stream leaving it. Interventions act on ``resid_pre.{L}`` (so layers below L
are untouched) and are registered *first* on a layer, captures *last*, so a capture always sees
the stream after any intervention at the same site.

Every registration returns a removable handle and ``HookSet`` removes exactly the handles it added,
even after an exception: transformers 5 installs hooks of its own, which must survive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.hooks import RemovableHandle

Positions = Literal["all", "prompt", "generated"]
_LAYER_PATHS = (
    "model.layers",
    "model.decoder.layers",
    "transformer.h",
    "gpt_neox.layers",
    "layers",
    "base_model.model.model.layers",  # a peft-wrapped causal LM
)


def find_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder-layer list of a causal LM, found by structure, never by model name."""
    from torch import nn

    for path in _LAYER_PATHS:
        obj: Any = model
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            return obj
    raise TypeError(f"cannot find the decoder layers of {type(model).__name__}")


def hook_count(model: nn.Module) -> int:
    """All forward hooks and pre-hooks on every module (for leak checks)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _unwrap(output: Any) -> torch.Tensor:
    # transformers 5 decoder layers return a tensor; older ones a tuple whose first item it is.
    return output[0] if isinstance(output, tuple) else output


def _applies(hidden: torch.Tensor, positions: Positions) -> bool:
    # With a KV cache the prompt is one pass of T > 1 tokens and each generated token a pass of 1.
    if positions == "all":
        return True
    is_prompt_pass = hidden.shape[1] > 1
    return is_prompt_pass if positions == "prompt" else not is_prompt_pass


class HookSet:
    """Collects handles; ``remove()`` (or leaving the ``with`` block) removes exactly those."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.layers = find_layers(model)
        self.handles: list[RemovableHandle] = []

    def __enter__(self) -> HookSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        while self.handles:
            self.handles.pop().remove()

    def edit_input(
        self, layer: int, fn: Callable[[torch.Tensor], torch.Tensor], positions: Positions = "all"
    ) -> RemovableHandle:
        """Replace the hidden states entering ``layer`` by ``fn(hidden)``."""

        def pre_hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if args:
                hidden = args[0]
                if not _applies(hidden, positions):
                    return None
                return (fn(hidden), *args[1:]), kwargs
            hidden = kwargs["hidden_states"]
            if not _applies(hidden, positions):
                return None
            return args, {**kwargs, "hidden_states": fn(hidden)}

        handle = self.layers[layer].register_forward_pre_hook(pre_hook, with_kwargs=True, prepend=True)
        self.handles.append(handle)
        return handle

    def add(self, layer: int, vector: torch.Tensor, alpha: float, positions: Positions = "all") -> RemovableHandle:
        """Add ``alpha * vector`` to the residual stream entering ``layer``."""

        def fn(hidden: torch.Tensor) -> torch.Tensor:
            return hidden + alpha * vector.to(hidden.device, hidden.dtype)

        return self.edit_input(layer, fn, positions)

    def ablate(self, layer: int, direction: torch.Tensor, positions: Positions = "all") -> RemovableHandle:
        """Project ``direction`` out of the residual stream entering ``layer``."""
        unit = direction / direction.norm().clamp_min(1e-12)

        def fn(hidden: torch.Tensor) -> torch.Tensor:
            u = unit.to(hidden.device, hidden.dtype)
            return hidden - (hidden @ u).unsqueeze(-1) * u

        return self.edit_input(layer, fn, positions)

    def capture(self, site: str, sink: Callable[[torch.Tensor], None]) -> RemovableHandle:
        """Call ``sink(hidden)`` with the stream at ``resid_pre.L`` or ``resid_post.L``."""
        kind, _, idx = site.partition(".")
        layer = self.layers[int(idx)]
        if kind == "resid_pre":

            def pre_hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                sink(args[0] if args else kwargs["hidden_states"])

            handle = layer.register_forward_pre_hook(pre_hook, with_kwargs=True)
        elif kind == "resid_post":

            def post_hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
                sink(_unwrap(output))

            handle = layer.register_forward_hook(post_hook)
        else:
            raise ValueError(f"unknown site {site!r}; use resid_pre.L or resid_post.L")
        self.handles.append(handle)
        return handle


@contextmanager
def steering(
    model: nn.Module,
    vectors: dict[int, torch.Tensor],
    alpha: float = 1.0,
    positions: Positions = "all",
) -> Iterator[HookSet]:
    """Add ``alpha * vectors[L]`` entering each layer L while the block runs."""
    with HookSet(model) as hooks:
        for layer, vector in vectors.items():
            hooks.add(layer, vector, alpha, positions)
        yield hooks


@contextmanager
def ablation(
    model: nn.Module, direction: torch.Tensor, layers: Sequence[int], positions: Positions = "all"
) -> Iterator[HookSet]:
    """Project ``direction`` out of the stream entering each of ``layers`` while the block runs."""
    with HookSet(model) as hooks:
        for layer in layers:
            hooks.ablate(layer, direction, positions)
        yield hooks
