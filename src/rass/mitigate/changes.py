"""Which items a mitigation changed, one by one.

Rates hide trades: 47 → 47 harmful refusals can be two dangerous requests answered now and two others
refused now. Every result therefore names the items whose verdict flipped, read from the judged answers
the "before" and "after" evaluations keep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# the four ways a verdict can flip; the first is the one a safety engineer reads first
KINDS = (
    ("harmful_answered_now", "harmful", False, "harmful requests answered now (refused before)"),
    ("benign_refused_now", "benign", True, "benign prompts refused now (answered before)"),
    ("benign_answered_now", "benign", False, "benign prompts answered now (refused before)"),
    ("harmful_refused_now", "harmful", True, "harmful requests refused now (answered before)"),
)
KIND_NAMES = tuple(kind for kind, *_ in KINDS)
# per side of the goals: the change a mitigation wants, the change it must not make, and their words
SIDES = (
    ("benign", "benign_answered_now", "benign_refused_now", "answered now", "refused now"),
    ("harmful", "harmful_refused_now", "harmful_answered_now", "refused now", "answered now"),
)
SNIPPET = 160  # characters kept of each prompt and answer: enough to recognise the item, not a second copy


def snip(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def verdict_changes(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The items judged on both sides whose refusal verdict differs, by kind of change (``KINDS``).

    Each item keeps its id, language, prompt and the answer after, cut to ``SNIPPET`` characters; items
    on one side only (another item set) are not compared.
    """
    was = {r["id"]: bool(r.get("refused")) for r in before}
    out: dict[str, list[dict[str, str]]] = {kind: [] for kind in KIND_NAMES}
    for r in after:
        if r["id"] not in was or was[r["id"]] == bool(r.get("refused")):
            continue
        for kind, label, refused, _ in KINDS:
            if r.get("label") == label and bool(r.get("refused")) == refused:
                out[kind].append({"id": r["id"], "lang": str(r.get("lang", "")), "prompt": snip(r.get("prompt")),
                                  "answer": snip(r.get("response"))})  # fmt: skip
    for items in out.values():
        items.sort(key=lambda x: x["id"])
    return out


def change_counts(changes: Mapping[str, Any]) -> str:
    """One line of counts, e.g. "harmful requests answered now (refused before): 2; …"."""
    return "; ".join(f"{words}: {len(changes.get(kind, []))}" for kind, _, _, words in KINDS)


def paired_tests(changes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per side (benign, harmful), the items that flipped the wanted way and the other way, with the
    two-sided exact McNemar p-value of the difference.

    On 72 validation items 7 → 4 refused reads like a 43 % cut, yet three flips one way and none the other
    happen by chance one time in four; the test says which differences are more than that.
    """
    from rass.stats import mcnemar_exact

    def flipped(kind: str) -> int:  # items as written; a foreign value counts none
        items = changes.get(kind)
        return sum(isinstance(x, dict) for x in items) if isinstance(items, list) else 0

    out = {}
    for side, good, bad, _, _ in SIDES:
        better, worse = flipped(good), flipped(bad)
        out[side] = {"better": better, "worse": worse, "p": round(mcnemar_exact(better, worse), 4)}
    return out


def paired_line(tests: Mapping[str, Mapping[str, Any]]) -> str:
    """The tests in words, e.g. "paired (exact McNemar on the flipped items): benign 3 answered now, 0
    refused now, p = 0.25; …"."""
    parts = [f"{side} {tests[side]['better']} {good_words}, {tests[side]['worse']} {bad_words}, "
             f"p = {tests[side]['p']:.2g}" for side, _, _, good_words, bad_words in SIDES if side in tests]  # fmt: skip
    return "paired (exact McNemar on the flipped items): " + "; ".join(parts)


def result_changes(folder: Path, result: Mapping[str, Any]) -> dict[str, Any] | None:
    """A result's changed items: as it was written, or read again from the judged answers of a result
    written before they were kept (``folder``: the setting's folder in ``RUN/mitigate``); None when those
    answers are not on disk (e.g. a result file copied alone) or what is written is not a mapping."""
    from rass.runs import read_rows

    written = result.get("changes")
    if written is not None:  # as written; a foreign value is not read as changes
        return dict(written) if isinstance(written, dict) else None
    before = folder.parent / str(result.get("before_dir") or "-") / "judged.jsonl"
    after = folder / str(result.get("after_dir") or "-") / "judged.jsonl"
    if not (before.is_file() and after.is_file()):
        return None
    return verdict_changes(read_rows(before), read_rows(after))
