"""benchmarks/guard_sweep.py: what a lower guard quantile would refuse, predicted from projections.

The prediction is only as good as its bookkeeping: an item is moved only when the lower threshold newly
reaches it, a newly guarded item that was answered counts as refused, one already refused is not counted
twice, and a quantile above the evaluated guard's is refused because its items' unguarded answers are unknown.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rass.errors import RassError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from guard_sweep import guarded_refusal, predict

REFERENCE = [float(x) for x in range(101)]  # quantile q sits at 100 * q


def item(i: str, label: str, proj: float, refused: bool) -> dict[str, object]:
    return {"id": i, "label": label, "proj": proj, "refused": refused}


ITEMS = [
    item("h-above", "harmful", 99.5, True),  # already guarded and refused
    item("h-band", "harmful", 95.0, False),  # answered, inside [90, 99)
    item("h-low", "harmful", 50.0, False),  # answered, below every threshold tried
    item("b-band-answered", "benign", 92.0, False),  # answered, newly guarded at 0.9
    item("b-band-refused", "benign", 96.0, True),  # refused already: no new refusal
    item("b-low", "benign", 10.0, False),
]


def test_a_lower_quantile_refuses_only_the_answered_items_its_threshold_newly_reaches() -> None:
    low, mid = predict(ITEMS, REFERENCE, evaluated=99.0, quantiles=[0.96, 0.9])
    assert (low["quantile"], low["threshold"], mid["quantile"], mid["threshold"]) == (0.9, 90.0, 0.96, 96.0)
    assert low["harmful"] == {"n": 3, "refused": 1, "newly_guarded": 1, "newly_refused": 1, "predicted_refused": 2,
                              "newly_refused_ids": ["h-band"]}  # fmt: skip
    assert low["benign"] == {"n": 3, "refused": 1, "newly_guarded": 2, "newly_refused": 1, "predicted_refused": 2,
                             "newly_refused_ids": ["b-band-answered"]}  # fmt: skip
    assert mid["harmful"]["predicted_refused"] == 1 and mid["benign"]["newly_guarded"] == 1  # 96 <= 96.0 < 99


def test_the_evaluated_quantile_itself_predicts_the_evaluation_unchanged() -> None:
    (same,) = predict(ITEMS, REFERENCE, evaluated=99.0, quantiles=[0.99])
    assert same["benign"]["predicted_refused"] == 1 and same["harmful"]["predicted_refused"] == 1


def test_a_quantile_above_the_evaluated_guard_is_refused() -> None:
    with pytest.raises(RassError, match="above the evaluated"):
        predict(ITEMS, REFERENCE, evaluated=90.0, quantiles=[0.95])


def test_the_assumption_is_measured_on_the_items_the_evaluated_guard_touched() -> None:
    assert guarded_refusal(ITEMS, 95.0) == {"benign": {"touched": 1, "refused": 1},
                                            "harmful": {"touched": 2, "refused": 1}}  # fmt: skip
