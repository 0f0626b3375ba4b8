"""PromptRecord: the one prompt schema every stage reads and writes (see docs/data.md)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from rass.errors import DataError

LABELS = ("harmful", "benign")
CATEGORIES = (
    "violence", "weapons", "drugs", "cybercrime", "fraud", "hate", "self_harm", "sexual",
    "privacy", "chem_bio", "misinformation", "politics", "none",
)  # fmt: skip
KINDS = ("seed", "lookalike", "candidate", "boundary", "contrast", "control", "imported")
SPLITS = ("train", "validation", "test")
LOOKALIKE_TYPES = (
    "homonym", "figurative", "safe_target", "safe_context", "definition", "history", "fiction",
    "public_figure", "safety_advice",
)  # fmt: skip

# ISO 639-1 two-letter codes: the primary subtag of a BCP-47 tag must be one of these
# (or a syntactically valid three-letter ISO 639-2/3 code).
_ISO639_1 = set(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy
    hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li
    ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa
    pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th
    ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split()
)
_BCP47 = re.compile(r"^(?P<primary>[a-zA-Z]{2,3})(-[a-zA-Z]{4})?(-([a-zA-Z]{2}|[0-9]{3}))?(-[a-zA-Z0-9]{5,8})*$")
_CATEGORY_ALIASES = {
    "self-harm": "self_harm",
    "chemical": "chem_bio",
    "bio": "chem_bio",
    "cyber": "cybercrime",
}


def check_lang(tag: str) -> str:
    """Return the normalised BCP-47 tag (``zh-hans`` → ``zh-Hans``) or raise DataError."""
    m = _BCP47.match(tag.strip()) if isinstance(tag, str) else None
    if not m:
        raise DataError(f"invalid language code {tag!r} (expected a BCP-47 tag such as en, zh-Hans, pt-BR)")
    primary = m.group("primary").lower()
    if len(primary) == 2 and primary not in _ISO639_1:
        raise DataError(f"unknown language code {tag!r}: {primary!r} is not an ISO 639-1 language")
    parts = tag.strip().split("-")
    out = [primary]
    for part in parts[1:]:
        out.append(part.title() if len(part) == 4 else part.upper() if len(part) in (2, 3) else part.lower())
    return "-".join(out)


def base_lang(tag: str) -> str:
    """The primary language subtag: ``zh-Hans`` → ``zh``."""
    return tag.split("-")[0].lower()


@dataclass
class PromptRecord:
    id: str
    text: str
    lang: str = "en"
    label: str = "benign"
    category: str = "none"
    kind: str = "seed"
    source: str = ""
    parent_id: str | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> PromptRecord:
        """Validate and build; ``where`` (``file:line``) prefixes every error message."""
        at = f"{where}: " if where else ""
        if not isinstance(data, dict):
            raise DataError(f"{at}expected a JSON object, got {type(data).__name__}")
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise DataError(f"{at}unknown field(s) {sorted(unknown)}")
        for name in ("id", "text"):
            value = data.get(name)
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"{at}missing or empty {name!r}")
        rec = cls(**{k: v for k, v in data.items() if v is not None or k in ("parent_id", "split")})
        rec.meta = dict(rec.meta or {})
        try:
            rec.lang = check_lang(rec.lang)
        except DataError as exc:
            raise DataError(f"{at}{exc}") from None
        if rec.label not in LABELS:
            raise DataError(f"{at}unknown label {rec.label!r}; use one of {', '.join(LABELS)}")
        rec.category = _CATEGORY_ALIASES.get(rec.category, rec.category)
        if rec.category not in CATEGORIES:
            raise DataError(f"{at}unknown category {rec.category!r}; use one of {', '.join(CATEGORIES)}")
        if rec.kind not in KINDS:
            raise DataError(f"{at}unknown kind {rec.kind!r}; use one of {', '.join(KINDS)}")
        if rec.split is not None and rec.split not in SPLITS:
            raise DataError(f"{at}unknown split {rec.split!r}; use one of {', '.join(SPLITS)}")
        lt = rec.meta.get("lookalike_type")
        if lt is not None and lt not in LOOKALIKE_TYPES:
            raise DataError(f"{at}unknown lookalike_type {lt!r}")
        return rec


def check_unique_ids(records: list[PromptRecord], where: str = "") -> None:
    seen: set[str] = set()
    for rec in records:
        if rec.id in seen:
            raise DataError(f"{where}: duplicate id {rec.id!r}" if where else f"duplicate id {rec.id!r}")
        seen.add(rec.id)
