"""Length bucketing keeps padding waste low and never loses or repeats a prompt."""

from __future__ import annotations

import random

from rass.models.batching import padding_waste, plan_batches


def test_every_index_appears_exactly_once() -> None:
    lengths = [random.Random(0).randint(5, 80) for _ in range(37)]
    batches = plan_batches(lengths, 8)
    assert sorted(i for b in batches for i in b) == list(range(37))
    assert all(len(b) <= 8 for b in batches)


def test_bucketing_wastes_less_padding_than_arrival_order() -> None:
    rng = random.Random(1)
    lengths = [rng.choice([10, 12, 60, 64, 120]) for _ in range(64)]
    bucketed = padding_waste(lengths, plan_batches(lengths, 8))
    plain = padding_waste(lengths, plan_batches(lengths, 8, bucket=False))
    assert bucketed < plain
    assert bucketed < 0.15


def test_equal_lengths_waste_nothing() -> None:
    assert padding_waste([7] * 9, plan_batches([7] * 9, 4)) == 0.0
