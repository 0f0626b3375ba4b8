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
from rass.mitigate.changes import snip

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


def test_flipped_items_are_projected_with_their_whole_prompt_not_the_kept_snippet() -> None:
    core = {i.removeprefix("core:"): f"prompt of {i}" for i in PROJ}
    assert flip_prompts([RESULT], core)["core:b-low"] == "prompt of core:b-low"
    assert "heldout:h-x" not in flip_prompts([RESULT], core)
    long = "why " * 100  # kept cut to SNIPPET characters in a result, looked up whole
    cut = {"changes": {"benign_answered_now": [{"id": "core:long", "prompt": snip(long)}]}}
    assert flip_prompts([cut], core | {"long": long})["core:long"] == long
    other = {"changes": {"benign_answered_now": [{"id": "core:b-low", "prompt": "another"}]}}
    with pytest.raises(RassError, match="another benchmark build"):
        flip_prompts([RESULT, other], core)
    with pytest.raises(RassError, match="another benchmark build"):
        flip_prompts([cut], core)  # an id this MORBench-core does not have
