"""Which shipped train-split look-alike seeds become comply prompts.

The RASS selection is mostly rass's quoting frames, so training on it alone never shows the model an
ordinary look-alike ("overthrow the Monopoly champion", "what is RAINN?"); look-alike seeds fill that
gap. Two pools:

- ``probe`` (default): the look-alikes the probe placed. The probe keeps a few per language and the
  seeds translate each concept into every language, so this pool is a handful of concepts, each up to
  four times (the demo run: 6 concepts, 24 prompts).
- ``seeds``: every train-split look-alike of the run's languages, scored at the probe layer here, one
  phrasing per concept (its language nearest the boundary). The same number of prompts then covers up
  to that many concepts: over-refusal of look-alikes not trained on is what the evaluation counts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LOOKALIKE_POOLS = ("probe", "seeds")


def concept(row: dict[str, Any]) -> str:
    """A seed's concept: its English parent's id (translations share it), else its own id."""
    return str(row.get("parent_id") or row["id"])


def one_per_concept(rows: Sequence[dict[str, Any]], n: int, *, seed: int | None = None) -> list[dict[str, Any]]:
    """Up to ``n`` rows, at most one per concept: nearest the boundary first, or at random with ``seed``.

    Nearest: each concept is represented by its highest-projecting phrasing and concepts are taken by
    that projection (ties by id, so the pick is stable). Random (the ablation): a random phrasing of
    each of ``n`` random concepts.
    """
    if seed is not None:
        order = list(rows)
        random.Random(seed).shuffle(order)
    else:
        order = sorted(rows, key=lambda r: (-r["projection"], r["id"]))
    picked: dict[str, dict[str, Any]] = {}
    for r in order:
        picked.setdefault(concept(r), r)
    return list(picked.values())[: max(n, 0)]


def score_seed_lookalikes(
    chat: Any, langs: Sequence[str], direction: Any, fit: dict[str, Any], folder: Path
) -> list[dict[str, Any]]:
    """Every shipped train-split look-alike of ``langs``, with its projection at the probe layer.

    A forward pass over a few hundred prompts (minutes for a 1.5B on a CPU), kept in ``folder`` the
    way selection keeps its scores, so another training seed or a resumed run reads them back.
    """
    from rass.data.seeds import load_seeds
    from rass.errors import RassError
    from rass.select.runner import cached_scores

    records = load_seeds(langs=langs, sets=["lookalike"], splits=["train"])
    if not records:
        raise RassError(f"no shipped train-split look-alike seeds in {', '.join(langs)}; use --lookalike-pool probe")
    return cached_scores(chat, records, direction, fit, folder)[0]  # rows keep parent_id: the concept
