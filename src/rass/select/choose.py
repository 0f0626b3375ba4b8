"""Selection math on scored candidates: the boundary band, near-duplicate removal, category quotas."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rass.errors import RassError


@dataclass(frozen=True)
class BandRule:
    """Keep candidates whose ``field`` lies in [lo, hi] (None: unbounded), then at most ``top`` of
    them, nearest the refusing side first.

    A rank rule (``lo`` None, ``top`` K: the K nearest the boundary) works for any model; a fixed
    edge does not always (a model that refuses little has its threshold far on the harmful side,
    so every benign candidate may lie more than half a gap below it).

    ``rel_distance`` is the signed distance to the fitted threshold in units of the harmful-harmless
    gap (0 on the boundary, -1 one gap toward harmless; comparable across models); ``distance`` the
    same in projection units; ``p_refuse`` the fitted boundary's refusal probability; ``flip_alpha``
    the signed steering distance (needs the optional flip search).
    """

    field: str = "rel_distance"
    lo: float | None = None
    hi: float | None = None
    top: int | None = 48

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise RassError(f"unknown band field {self.field!r}; use {', '.join(FIELDS)}")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise RassError(f"empty band: lo {self.lo} > hi {self.hi}")
        if self.top is not None and self.top < 1:
            raise RassError(f"band top must be at least 1, got {self.top}")

    def contains(self, row: dict[str, Any]) -> bool:
        value = row.get(self.field)
        if value is None:
            return False
        return (self.lo is None or self.lo <= float(value)) and (self.hi is None or float(value) <= self.hi)

    def describe(self) -> str:
        lo = "-inf" if self.lo is None else self.lo
        hi = "inf" if self.hi is None else self.hi
        return f"{self.field} in [{lo}, {hi}]" + (f", top {self.top}" if self.top else "")


FIELDS = ("rel_distance", "distance", "p_refuse", "refusal_score", "flip_alpha")


def char_grams(text: str, n: int = 4) -> set[str]:
    t = re.sub(r"\s+", " ", text.lower())
    return {t[i : i + n] for i in range(max(1, len(t) - n + 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def dedup(
    rows: Sequence[dict[str, Any]], threshold: float = 0.6
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """Greedy near-duplicate removal on character 4-grams (works for every script): keep the earlier row."""
    kept: list[dict[str, Any]] = []
    grams: list[set[str]] = []
    dropped: list[tuple[dict[str, Any], str]] = []
    for row in rows:
        g = char_grams(row["text"])
        match = next((k for k, other in enumerate(grams) if jaccard(g, other) >= threshold), None)
        if match is None:
            kept.append(row)
            grams.append(g)
        else:
            dropped.append((row, f"near-duplicate of {kept[match]['id']}"))
    return kept, dropped


def apply_quota(
    rows: Sequence[dict[str, Any]], per_category: int | None
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """At most ``per_category`` rows per (language, category), in the given (priority) order."""
    if not per_category:
        return list(rows), []
    seen: Counter[tuple[str, str]] = Counter()
    kept, dropped = [], []
    for row in rows:
        key = (row["lang"], row["category"])
        if seen[key] < per_category:
            seen[key] += 1
            kept.append(row)
        else:
            dropped.append((row, f"quota: {per_category} per category already taken"))
    return kept, dropped
