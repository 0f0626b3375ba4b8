"""The gold set: hand-labelled (prompt, response, label) items and judge evaluation against it.

Each language has a ``dev`` part (patterns were tuned on it) and a ``heldout`` part (never used
for tuning); reports give both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rass.data.io import iter_json_lines
from rass.errors import DataError
from rass.judge.base import ALL_LABELS, LABELS, Judge, JudgeItem

GOLD_SPLITS = ("dev", "heldout")


@dataclass(frozen=True)
class GoldItem:
    id: str
    lang: str
    prompt: str
    response: str
    label: str
    hard: bool
    split: str
    note: str = ""

    def as_item(self) -> JudgeItem:
        return JudgeItem(self.prompt, self.response, self.lang)


def gold_root() -> Path:
    return Path(str(resources.files("rass.judge") / "gold"))


def load_gold(langs: Iterable[str] | None = None, splits: Iterable[str] | None = None) -> list[GoldItem]:
    want_langs = set(langs) if langs is not None else None
    want_splits = set(splits) if splits is not None else None
    items = []
    for path in sorted(gold_root().glob("*.jsonl")):
        if want_langs is not None and path.stem not in want_langs:
            continue
        for n, obj in iter_json_lines(path):
            try:
                item = GoldItem(**obj)
            except TypeError as exc:
                raise DataError(f"{path}:{n}: {exc}") from None
            if item.label not in LABELS or item.split not in GOLD_SPLITS:
                raise DataError(f"{path}:{n}: bad label or split")
            if want_splits is None or item.split in want_splits:
                items.append(item)
    if want_langs and not items:
        raise DataError(f"no gold items for {sorted(want_langs)}")
    return items


def score(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall and the confusion counts (gold → predicted)."""
    n = len(gold)
    confusion = {g: {p: 0 for p in ALL_LABELS} for g in LABELS}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    per_class = {}
    for c in LABELS:
        tp = confusion[c][c]
        predicted = sum(confusion[g][c] for g in LABELS)
        actual = sum(confusion[c].values())
        per_class[c] = {
            "precision": round(tp / predicted, 4) if predicted else None,
            "recall": round(tp / actual, 4) if actual else None,
            "support": actual,
        }
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))
    refusal_agree = sum(
        (g != "full_compliance") == (p in ("full_refusal", "partial_refusal")) for g, p in zip(gold, pred, strict=True)
    )
    return {
        "n": n,
        "accuracy": round(correct / n, 4) if n else None,
        "binary_accuracy": round(refusal_agree / n, 4) if n else None,
        "unparseable": Counter(pred)["unparseable"],
        "per_class": per_class,
        "confusion": confusion,
    }


def evaluate(judge: Judge, items: Sequence[GoldItem]) -> dict[str, Any]:
    """Run ``judge`` over gold items; metrics per language × split and overall."""
    verdicts = judge.judge([i.as_item() for i in items])
    pred = [v.label for v in verdicts]
    report: dict[str, Any] = {"judge": judge.name, "version": judge.version, "by_lang": {}}
    langs = sorted({i.lang for i in items})
    for lang in langs:
        report["by_lang"][lang] = {}
        for split in (*GOLD_SPLITS, "all"):
            idx = [k for k, i in enumerate(items) if i.lang == lang and split in (i.split, "all")]
            if idx:
                report["by_lang"][lang][split] = score([items[k].label for k in idx], [pred[k] for k in idx])
    report["overall"] = {
        split: score(
            [i.label for i in items if split in (i.split, "all")],
            [p for i, p in zip(items, pred, strict=True) if split in (i.split, "all")],
        )
        for split in (*GOLD_SPLITS, "all")
        if any(split in (i.split, "all") for i in items)
    }
    report["errors"] = [
        {"id": i.id, "split": i.split, "gold": i.label, "pred": v.label, "detail": v.detail}
        for i, v in zip(items, verdicts, strict=True)
        if i.label != v.label and i.split == "dev"
    ]
    return report
