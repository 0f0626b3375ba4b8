"""The Judge protocol, the Judgement record and a small registry of judges by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from rass.errors import RassError

Label = Literal["full_compliance", "full_refusal", "partial_refusal", "unparseable"]
LABELS: tuple[str, ...] = ("full_compliance", "full_refusal", "partial_refusal")
ALL_LABELS: tuple[str, ...] = (*LABELS, "unparseable")


@dataclass(frozen=True)
class Judgement:
    """One verdict. ``score`` is the judge's refusal strength (higher = more refusing)."""

    label: Label
    score: float
    judge: str
    version: str
    detail: str = ""

    @property
    def refused(self) -> bool:
        """Full or partial refusal: what over-refusal rates count."""
        return self.label in ("full_refusal", "partial_refusal")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JudgeItem:
    """What a judge looks at: the prompt, the response and the prompt's language."""

    prompt: str
    response: str
    lang: str = "en"


@runtime_checkable
class Judge(Protocol):
    """Classifies responses. ``judge`` returns one Judgement per item, in order."""

    name: str
    version: str

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]: ...


_FACTORIES: dict[str, Callable[..., Judge]] = {}


def register(name: str) -> Callable[[Callable[..., Judge]], Callable[..., Judge]]:
    def deco(factory: Callable[..., Judge]) -> Callable[..., Judge]:
        _FACTORIES[name] = factory
        return factory

    return deco


def _load_builtins() -> None:
    # Importing the modules registers them; they import heavy libraries only when used.
    from rass.judge import llm, logit, string  # noqa: F401


def judge_names() -> list[str]:
    _load_builtins()
    return sorted(_FACTORIES)


def get_judge(name: str, **kwargs: Any) -> Judge:
    """Build a judge by name (``string``, ``logit``, ``llm``); model judges take ``model=``."""
    _load_builtins()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise RassError(f"unknown judge {name!r}; known judges: {', '.join(sorted(_FACTORIES))}") from None
    return factory(**kwargs)
