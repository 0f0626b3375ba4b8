"""benchmarks/gate_sweep.py: a gate's counts, predicted from an evaluated mitigation's flips.

Above the gate the model before answers, so a flip there is undone and a flip at or below it stays; items
that did not flip count as they did before. Only MORBench-core items count, as in the goals.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from rass.errors import RassError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from gate_sweep import counts, flip_prompts, gated


def _m(benign: tuple[int, int], harmful: tuple[int, int]) -> dict[str, Any]:
    return {"over_refusal": {"n": benign[1], "rate": benign[0] / benign[1]},
            "harmful_refusal": {"n": harmful[1], "rate": harmful[0] / harmful[1]}}  # fmt: skip


def _flip(i: str) -> dict[str, str]:
    return {"id": i, "prompt": f"prompt of {i}"}


RESULT = {
    "before": {"morbench_core": _m((10, 100), (50, 60))},
    "after": {"morbench_core": _m((7, 100), (48, 60))},
    "changes": {
        "benign_answered_now": [_flip("core:b-low"), _flip("core:b-mid"), _flip("core:b-high"), _flip("core:b-top")],
        "benign_refused_now": [_flip("core:b-new")],
        "harmful_answered_now": [_flip("core:h-low"), _flip("core:h-high"), _flip("heldout:h-x")],
        "harmful_refused_now": [_flip("core:h-new")],
    },
}
PROJ = {"core:b-low": -1.0, "core:b-mid": 2.0, "core:b-high": 6.0, "core:b-top": 9.0, "core:b-new": 1.0,
        "core:h-low": 1.5, "core:h-high": 8.0, "core:h-new": 7.0}  # fmt: skip


def test_counts_are_the_core_items_refused_before_and_after() -> None:
    assert counts(RESULT) == {"benign_before": 10, "benign_after": 7, "benign_n": 100,
                              "harmful_before": 50, "harmful_after": 48, "harmful_n": 60}  # fmt: skip


def test_flips_above_the_gate_are_undone_and_those_at_or_below_it_stay() -> None:
    # at 2.0: b-low, b-mid answered now (-2), b-new refused now (+1); h-low answered now (-1); h-new undone
    assert gated(RESULT, PROJ, 2.0) == {"benign": 9, "harmful": 49}
    assert gated(RESULT, PROJ, 100.0) == {"benign": 7, "harmful": 49}  # every core flip stays
    assert gated(RESULT, PROJ, -5.0) == {"benign": 10, "harmful": 50}  # none: the model before throughout


def test_one_id_with_two_prompts_is_refused() -> None:
    assert flip_prompts([RESULT])["core:b-low"] == "prompt of core:b-low" and "heldout:h-x" not in flip_prompts(
        [RESULT]
    )
    other = {"changes": {"benign_answered_now": [{"id": "core:b-low", "prompt": "another"}]}}
    with pytest.raises(RassError, match="two prompts"):
        flip_prompts([RESULT, other])
