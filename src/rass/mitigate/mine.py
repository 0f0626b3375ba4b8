"""Mined anchors: a second training with anchors where a first one stopped refusing.

Why: anchors are drawn next to the comply targets (``nearest_first``), but what a training gives up
lies elsewhere too. On the 1.5B every setting and seed answered a grooming request and a Spanish
suicide-method question afterwards, of wordings no anchor was near. A first training shows where
refusal gives way: the harmful *train* prompts whose refusal log-odds it lowered most among those
the base model refuses. Those become extra anchors (the base model's own refusal, rass's canned one
where it answers) and a fresh adapter trains on the data plus them. Only train-split prompts are
scored, so nothing evaluated is ever trained on; one forward pass per prompt, no generation, finds
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.runs import content_key, read_json_if, write_json

if TYPE_CHECKING:
    from rass.models.chat import ChatModel


def scores_without_adapter(chat: ChatModel, texts: Sequence[str], batch_size: int | None = None) -> list[float]:
    """The base model's refusal log-odds: the adapter on ``chat`` switched off for the pass."""
    with chat.model.disable_adapter():
        return [float(s) for s in chat.refusal_score(list(texts), batch_size=batch_size)]


def pick(base: Sequence[float], after: Sequence[float], n: int) -> list[int]:
    """Indices of the ``n`` prompts whose refusal the training weakened most, among those the base
    model refuses (log-odds above 0) and the training moved toward answering at all."""
    drops = [(a - b, i) for i, (b, a) in enumerate(zip(base, after, strict=True)) if b > 0 and a < b]
    return [i for _, i in sorted(drops)[:n]]


def mine_anchors(chat: ChatModel, pool: Sequence[Any], n: int, cache: Path, *, trained: str,
                 base_cache: Path | None = None,
                 batch_size: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Up to ``n`` anchors from ``pool`` (harmful train prompts not anchored yet) for the adapter now on
    ``chat`` (``trained``: that training's key), and what the search saw. Kept in ``cache``, the base
    model's scores in ``base_cache`` (shared by every seed of one data)."""
    from rass.mitigate.data import refusal_anchors

    ids, texts = [h.id for h in pool], [h.text for h in pool]
    key = content_key({"ids": ids, "n": n, "trained": trained})
    saved = read_json_if(cache)
    if saved and saved.get("key") == key:
        return saved["anchors"], saved["summary"]
    base_key = content_key({"ids": ids, "model": chat.fingerprint})
    base_saved = read_json_if(base_cache) if base_cache else None
    if base_saved and base_saved.get("key") == base_key:
        base = base_saved["scores"]
    else:
        base = scores_without_adapter(chat, texts, batch_size)
        if base_cache:
            write_json(base_cache, {"key": base_key, "scores": base})
    after = [float(s) for s in chat.refusal_score(texts, batch_size=batch_size)]
    chosen = pick(base, after, n)
    with chat.model.disable_adapter():  # the refusal the model gave before any training
        anchors, answered = refusal_anchors(chat, [pool[i] for i in chosen], len(chosen), canned=True,
                                            batch_size=batch_size)  # fmt: skip
    drop = {pool[i].id: round(after[i] - base[i], 3) for i in chosen}
    for a in anchors:
        a["mined"] = drop[a["id"]]
    summary = {"scored": len(pool), "base_refused": sum(b > 0 for b in base),
               "weakened": sum(b > 0 and a < b for b, a in zip(base, after, strict=True)),
               "answered_after": sum(b > 0 >= a for b, a in zip(base, after, strict=True)),
               "mined": len(anchors), "answered_by_base": answered}  # fmt: skip
    write_json(cache, {"key": key, "anchors": anchors, "summary": summary})
    return anchors, summary
