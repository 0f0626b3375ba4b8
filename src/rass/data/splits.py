"""Fixed train/validation/test assignment, so no later stage fits on its test data.

The split is a pure function of the *root* id (a translation's English parent), so parallel
items in every language land in the same split and the assignment never changes between runs.
"""

from __future__ import annotations

import hashlib

from rass.data.schema import PromptRecord

FRACTIONS = (("train", 0.6), ("validation", 0.2), ("test", 0.2))


def hash_fraction(key: str) -> float:
    """A stable number in [0, 1) from a hash of ``key``: splits that survive reordering and re-runs."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0x1_0000_0000


def assign_split(root_id: str) -> str:
    """``train`` / ``validation`` / ``test`` at 60/20/20 from a hash of the id."""
    u = hash_fraction(root_id)
    edge = 0.0
    for name, frac in FRACTIONS:
        edge += frac
        if u < edge:
            return name
    return FRACTIONS[-1][0]


def root_id(record: PromptRecord) -> str:
    return record.parent_id or record.id


def with_splits(records: list[PromptRecord]) -> list[PromptRecord]:
    """Fill missing splits in place (existing ones are kept) and return the records."""
    for rec in records:
        if rec.split is None:
            rec.split = assign_split(root_id(rec))
    return records
