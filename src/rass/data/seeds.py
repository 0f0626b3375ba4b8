"""The seed sets shipped inside the package: harmful, harmless and look-alike prompts, 8 languages."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Protocol, TypeVar

from rass.data.io import read_jsonl
from rass.data.schema import PromptRecord
from rass.errors import DataError

SETS = ("harmful", "harmless", "lookalike")


def seeds_root() -> Path:
    return Path(str(resources.files("rass.data") / "seeds"))


def seed_langs() -> list[str]:
    return sorted(p.name for p in seeds_root().iterdir() if p.is_dir())


def seed_files(langs: Iterable[str] | None = None, sets: Iterable[str] | None = None) -> list[Path]:
    langs = list(langs) if langs is not None else seed_langs()
    sets = list(sets) if sets is not None else list(SETS)
    for s in sets:
        if s not in SETS:
            raise DataError(f"unknown seed set {s!r}; use {', '.join(SETS)}")
    files = []
    for lang in langs:
        if not (seeds_root() / lang).is_dir():
            raise DataError(f"no seed sets for language {lang!r}; shipped: {', '.join(seed_langs())}")
        files += [seeds_root() / lang / f"{s}.jsonl" for s in sets]
    return files


def load_seeds(
    langs: Iterable[str] | None = None,
    sets: Iterable[str] | None = None,
    splits: Iterable[str] | None = None,
) -> list[PromptRecord]:
    """Shipped seed records, filtered by language, set and split."""
    keep = set(splits) if splits is not None else None
    out: list[PromptRecord] = []
    for path in seed_files(langs, sets):
        out += [r for r in read_jsonl(path) if keep is None or r.split in keep]
    return out


class _HasLang(Protocol):
    @property
    def lang(self) -> str: ...


T = TypeVar("T", bound=_HasLang)


def cap_per_lang(items: Sequence[T], limit: int, key: Callable[[T], object] | None = None) -> list[T]:
    """The first ``limit`` items of each language (or of each ``key`` group), in order; 0 keeps all."""
    if not limit:
        return list(items)
    group = key or (lambda item: item.lang)
    seen: dict[object, int] = {}
    kept = []
    for item in items:
        k = group(item)
        if seen.get(k, 0) < limit:
            kept.append(item)
            seen[k] = seen.get(k, 0) + 1
    return kept


def round_robin(items: Sequence[T], n: int) -> list[T]:
    """Up to ``n`` items taken one language at a time, so no language crowds out the others."""
    by_lang: dict[str, list[T]] = {}
    for item in items:
        by_lang.setdefault(item.lang, []).append(item)
    queues = [list(reversed(v)) for _, v in sorted(by_lang.items())]
    out: list[T] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop())
    return out
