"""Robust parsing of a model's list output into individual prompts.

Models answer "give me five prompts" in many shapes: numbered or bulleted lists, JSON arrays,
quoted lines, a preamble ("Sure! Here are…") and a closing remark. The parser keeps the items and
drops the chatter; when nothing list-like is found it returns nothing (the caller counts and logs
that as unparseable rather than guessing).
"""

from __future__ import annotations

import json
import re

_ITEM = re.compile(
    r"^\s*(?:(?:\d{1,2}\s*[.)\]:]|[-*•·●]|\(\d{1,2}\)|[a-e][.)])\s+|\d{1,2}\s*[：、．。]\s*)(?P<text>.+?)\s*$"
)
_JSON_ARRAY = re.compile(r"\[\s*\".*?\"\s*\]", re.S)
_WRAPPERS = "\"'“”‘’«»「」『』`*_"
_PREFIX = re.compile(r"^(?:prompt|request|question|candidate|example)\s*\d*\s*[:：-]\s*", re.I)


def _clean(text: str) -> str:
    text = _PREFIX.sub("", text.strip())
    for _ in range(2):
        text = text.strip().strip(_WRAPPERS).strip()
    return re.sub(r"\s+", " ", text)


def parse_list(output: str, *, min_chars: int = 8, max_chars: int = 400) -> list[str]:
    """The list items in ``output``, cleaned, in order, without exact repeats."""
    items: list[str] = []
    m = _JSON_ARRAY.search(output)
    if m:
        try:
            arr = json.loads(m.group(0))
            items = [str(x) for x in arr if isinstance(x, str)]
        except json.JSONDecodeError:
            items = []
    if not items:
        items = [m.group("text") for line in output.splitlines() if (m := _ITEM.match(line))]
    if not items:
        quoted = re.findall(r"^\s*[\"“](.+?)[\"”]\s*$", output, flags=re.M)
        items = quoted
    seen: set[str] = set()
    out = []
    for raw in items:
        text = _clean(raw)
        key = text.lower()
        if min_chars <= len(text) <= max_chars and key not in seen:
            seen.add(key)
            out.append(text)
    return out
