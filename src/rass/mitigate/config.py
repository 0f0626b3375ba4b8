"""What a mitigation is set to do (``MitigateConfig``) and the one check that refuses what cannot run.

Kept apart from the runner so the CLI, ``rass run`` and a notebook can build and check a setting
without importing how it is carried out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rass.data.seeds import seed_langs
from rass.errors import RassError
from rass.mitigate.data import ANCHOR_EDGES, ANCHOR_SPREADS
from rass.mitigate.gate import GATE_SIGNALS
from rass.mitigate.lookalikes import LOOKALIKE_POOLS
from rass.mitigate.steer import STEER_POSITIONS

ANCHOR_MATCH = ("nearest", "order")
# "test": the reported evaluation; "validation": items it never uses, to choose settings on (_eval_sets)
EVAL_SPLITS = ("test", "validation")
# MitigateConfig fields added after results existed, at the value that behaves as before they did
LATER: dict[str, Any] = {"eval_split": "test", "anchor_ratio": 1.0, "anchor_cover": False, "soup": None,
                         "mine_anchors": 0, "explained_refusals": False, "anchor_spread": "targets",
                         "lookalike_pool": "probe", "anchor_edge": "logodds", "adapter_scale": 1.0,
                         "guard": 0.0, "gate": 0.0, "gate_by": "direction", "steer_floor": 1.0,
                         "gate_refusing": None, "gate_system": None,
                         "steer_positions": "all", "answer_check": False, "check_retry": None,
                         "eval_langs": None}  # fmt: skip


@dataclass
class MitigateConfig:
    method: str = "sft"  # sft | dpo | steer
    heldout_fraction: float = 0.3
    anchors: int = 0  # harmful refusal anchors; 0: anchor_ratio per comply target kept
    # on the 1.5B's demo run 1.5 kept all 38 of 44 validation refusals (6 -> 3 of 48 benign) when validation
    # items were the core items after the test's; on the larger, clean split (benchmarks/README.md) seed 0
    # lost 2 of 47 (7 -> 5 of 72 benign), 1 lost 10 (7 -> 1) and 2 gained 6 but left 7 of 72 refused; over
    # training seeds 0-3 it kept them on average (47 -> 45, 50, 47, 44) and left 5, 6, 3, 3 of 72 refused:
    # rass choose's pick
    anchor_ratio: float = 1.5
    # anchors only from refusals the model gives itself, anchor_ratio per comply target of each language;
    # off: the first harmful train prompts, the canned refusal where the model answers (see README)
    own_anchors: bool = False
    # which harmful prompts become anchors: "nearest" pairs each comply target with the harmful train
    # prompt of its language and category nearest to it at the probe layer (rass.mitigate.data.
    # nearest_first); "order": the seed files' order. On the 1.5B's demo run nearest kept 20 and 19 of
    # 22 harmful refusals (two seeds) where order kept 17 and 16, core benign 4 -> 1 (order: 4 -> 0)
    anchor_match: str = "nearest"
    # nearest only: also one anchor for each harm category no comply target is of (nearest_first's coverage).
    # Off: over three training seeds on the 1.5B's validation items it did no better (5, 7, 4 of 72 benign
    # refused against 5, 6, 3; harmful 45, 50, 47 of 58 both ways)
    anchor_cover: bool = False
    # how the anchors are shared among languages: "targets" (as many per target of each language: the
    # language with most targets gets most) or "even" (the same count, an equal share per target language)
    anchor_spread: str = "targets"
    # nearest only: how the boundary rounds (and coverage) find the harmful prompts the model refuses least
    # firmly: "logodds" (refused: positive first-token refusal log-odds; nearest: the lowest) or
    # "projection" (refused: its own short reply is a refusal; nearest: the lowest projection on the
    # refusal direction at the probe layer; rass.mitigate.data.edge_measure)
    anchor_edge: str = "logodds"
    # sft/dpo: train once, then again from scratch with this many more anchors: the harmful train prompts
    # whose refusal the first training weakened most (rass.mitigate.mine); 0: one training. Off: on the 1.5B's
    # validation items its two seeds left 3 and 14 of 72 benign items refused (harmful 46 and 54 of 58)
    mine_anchors: int = 0
    # sft/dpo: anchors answer with a refusal that names what it declines and why (rass.mitigate.explained)
    # instead of the model's own or the canned one; the anchors drawn are the same, only their answers differ
    explained_refusals: bool = False
    retain: int = 48  # with 16 against 42 comply targets and 42 anchors the 1.5B refused 2 harmless controls
    gen_batch: int = 32  # prompts generated at once while building training data (not the evaluation's)
    eval_limit: int = 3  # MORBench-core items per language x kind (CPU-sized; 12+ on a GPU)
    eval_max_new_tokens: int = 48
    eval_split: str = "test"  # "validation": choose settings (anchors, steps) without reading the test items
    # the languages evaluated (shipped seed languages, e.g. every MORBench-core one); None: the languages the
    # run's boundary prompts are in, and en. Only the evaluation reads it: training, the gate and the answer
    # check are the same at any value, so one setting can be measured on other languages without another training
    eval_langs: list[str] | None = None
    steer_alpha: float = 1.0
    # steer: where the direction is subtracted: "all" positions, or "last": the last prompt position and the
    # generated ones, the prompt read as it is (rass.mitigate.steer)
    steer_positions: str = "all"
    band_from: str = "fit"  # fit | selected | probe: see steer_band
    max_harmful_steered: float = 0.1  # fit: the most of the probe's harmful prompts the band may hold
    band_quantiles: tuple[float, float] = (0.0, 1.0)  # selected: of its projections; probe: (harmless, harmful)
    ablation: bool = False
    written: bool = True  # rass's own quoting frames get their written answers (rass.mitigate.written)
    lookalikes: int = 16  # shipped train-split look-alike seeds added as comply prompts (see lookalike_seeds)
    # where they come from: "probe" (the ones the probe placed) or "seeds" (all shipped ones of the run's
    # languages, scored here, one phrasing per concept: rass.mitigate.lookalikes)
    lookalike_pool: str = "probe"
    seed: int = 0
    train: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # the folder in mitigate/ (default: method_folder's); where results go, not what they are
    # sft/dpo: no training; the mean of these trainings' adapters (folders in mitigate/, seeds of one
    # setting) is evaluated instead (rass.mitigate.soup)
    soup: list[str] | None = None
    # sft/dpo: the trained adapter's weight change times this is evaluated and saved as adapter-scaled/ (the
    # training's own stays in adapter/): a point between the model before (0) and the training (1) without
    # training again (rass.models.adapters.scale_adapter)
    adapter_scale: float = 1.0
    # sft/dpo: the training in mitigate/<train_from>/ is taken as this one's (its checkpoints copied here,
    # resumed only if its data and training settings are these): another adapter_scale of one training
    train_from: str | None = None
    # sft/dpo: after training, the refusal direction is added (alpha 1) to every input projecting above this
    # quantile of the benign train prompts the training never saw (rass.mitigate.guard); 0: no guard
    guard: float = 0.0
    # sft/dpo or a soup: the adapter (and its guard) answers only inputs the unmitigated model projects at or
    # below this quantile of the probe's harmful train/validation prompts; the rest get the unmitigated
    # model's answer (rass.mitigate.gate); 0: every input gets the adapter. steer: only those inputs are
    # steered, in a band from steer_floor up with no upper edge (steer_band)
    gate: float = 0.0
    # what the gate projects on: the run's refusal direction, or a harm classifier fitted on the shipped
    # seeds at the probe layer, its quantile taken of validation-split harmful seeds (rass.mitigate.harm_probe)
    gate_by: str = "direction"
    # the gate also asks the unmitigated model's first reply token: only inputs whose refusal log-odds are above
    # this bar are mitigated, every other input keeps its answer bit for bit (rass.mitigate.gate); None: off
    gate_refusing: float | None = None
    # the system prompt of the inputs behind the gate: a shipped one by name ("frames": rass.mitigate.frames) or
    # the text itself; the other inputs keep the model's default; None: the default for all
    gate_system: str | None = None
    # a gated steer's lower edge: this quantile of the probe's harmless prompts' projections (1.0: the highest);
    # inputs below it stay bit-identical. Its upper edge is the gate's: harmful inputs never get steered
    steer_floor: float = 1.0
    # behind a gate: each mitigated reply is read by a probe on the unmitigated model's hidden state over the
    # reply (rass.mitigate.answer_probe); a reply it flags as harmful is replaced by the unmitigated model's
    # answer, as if its input were above the gate. Saved in answer-check/ and deployed with the folder
    answer_check: bool = False
    # with the answer check: a flagged reply is first answered again behind the gate with this system prompt (a
    # shipped name, "frames", or the text) and read again; only a second flag hands it to the model as it was.
    # Why: a flag on an ordinary answer to a prompt the model before refused costs that answer, and the frames
    # prompt given to every input behind the gate costs KL on all of them (0.491 against 0.088 on the 1.5B)
    check_retry: str | None = None


# folders of mitigate/ that hold what every method shares, never one method's results
SHARED_FOLDERS = ("before-", "data-", "targets-", "lookalikes", "harm-probe-", "answer-probe-")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str) -> None:
    """A ``--name`` must be one plain folder name that is not a shared folder's."""
    if not NAME_PATTERN.fullmatch(name) or name.startswith(SHARED_FOLDERS):
        raise RassError(
            f"cannot use {name!r} as a mitigation folder name: use letters, digits, '.', '_' or '-' (at most 64), "
            f"not starting with {', '.join(SHARED_FOLDERS)}"
        )


def parse_eval_langs(text: str | None) -> list[str] | None:
    """``--eval-langs``: "fr, de" → ["de", "fr"]; "core" → every shipped seed language (MORBench-core's);
    None → None (the run's languages). Unknown or no languages are left for check_config to name."""
    if text is None:
        return None
    if text.strip() == "core":
        return seed_langs()
    return sorted({x.strip() for x in text.split(",") if x.strip()})


class ConfigProblem(RassError):
    """A setting that cannot run, with the command-line option it comes from (the CLI names it)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def check_config(cfg: MitigateConfig) -> None:
    """Refuse a setting that cannot run, before a model loads or a file is written.

    One list of rules for both doors: the CLI turns a ConfigProblem into a usage error on its option,
    run_mitigation (a notebook's door) raises it as it is, so the two never disagree.
    """
    trains = cfg.method in ("sft", "dpo")
    problems: list[tuple[bool, str, str]] = [
        (not trains and cfg.method != "steer", "--method", f"unknown method {cfg.method!r}; use sft, dpo or steer"),
        (cfg.anchor_match not in ANCHOR_MATCH, "--anchor-match",
         f"unknown anchor match {cfg.anchor_match!r}; use {' or '.join(ANCHOR_MATCH)}"),
        (cfg.anchor_cover and cfg.anchor_match != "nearest", "--anchor-cover",
         "anchor coverage is a step of nearest matching: use --anchor-match nearest"),
        (cfg.anchor_edge not in ANCHOR_EDGES, "--anchor-edge",
         f"unknown anchor edge {cfg.anchor_edge!r}; use {' or '.join(ANCHOR_EDGES)}"),
        (cfg.anchor_edge != "logodds" and cfg.anchor_match != "nearest", "--anchor-edge",
         "the anchor edge is a step of nearest matching: use --anchor-match nearest"),
        (cfg.anchor_spread not in ANCHOR_SPREADS, "--anchor-spread",
         f"unknown anchor spread {cfg.anchor_spread!r}; use {' or '.join(ANCHOR_SPREADS)}"),
        (cfg.lookalike_pool not in LOOKALIKE_POOLS, "--lookalike-pool",
         f"unknown look-alike pool {cfg.lookalike_pool!r}; use {' or '.join(LOOKALIKE_POOLS)}"),
        (cfg.lookalike_pool != "probe" and not trains, "--lookalike-pool",
         f"look-alikes are training data: use sft or dpo, not {cfg.method}"),
        (not cfg.anchor_ratio > 0, "--anchor-ratio", f"the anchor ratio must be above 0, got {cfg.anchor_ratio:g}"),
        (cfg.eval_langs is not None and not set(cfg.eval_langs) <= set(seed_langs()), "--eval-langs",
         f"no shipped seeds in {', '.join(sorted(set(cfg.eval_langs or []) - set(seed_langs())))}; the "
         f"evaluation languages are the shipped ones: {', '.join(seed_langs())} (or core for all)"),
        (cfg.eval_langs is not None and not cfg.eval_langs, "--eval-langs",
         "no evaluation languages given: name shipped ones, e.g. fr,de, or core for all"),
        (cfg.eval_split not in EVAL_SPLITS, "--eval-split",
         f"unknown evaluation split {cfg.eval_split!r}; use {' or '.join(EVAL_SPLITS)}"),
        (cfg.adapter_scale != 1.0 and not (trains and cfg.adapter_scale > 0), "--adapter-scale",
         f"an adapter scale is above 0 and scales a trained adapter (sft or dpo), got {cfg.adapter_scale:g} "
         f"with {cfg.method}"),
        (bool(cfg.guard) and not ((trains or bool(cfg.soup)) and 0 < cfg.guard < 1), "--guard",
         f"a guard is a quantile between 0 and 1 fitted after an sft or dpo training or on a soup, e.g. 0.99, "
         f"got {cfg.guard:g} with {'a soup' if cfg.soup else cfg.method}"),
        (bool(cfg.gate) and not 0 < cfg.gate < 1, "--gate",
         f"a gate is a quantile between 0 and 1 of the probe's harmful prompts, chosen between an sft or dpo "
         f"adapter (or a soup, or steering) and the model, e.g. 0.1, got {cfg.gate:g}"),
        (cfg.gate_refusing is not None and not cfg.gate, "--gate-refusing",
         "a refusing gate is a second condition of the gate: give the gate too, e.g. --gate 0.1 --gate-refusing -2"),
        (cfg.gate_system is not None and not cfg.gate, "--gate-system",
         "the gate's system prompt is for the inputs behind a gate: give the gate too, e.g. --gate 0.1 "
         "--gate-system frames"),
        (cfg.gate_system is not None and not cfg.gate_system.strip(), "--gate-system",
         "the gate's system prompt is empty: give a shipped name (frames) or the text"),
        (cfg.answer_check and not cfg.gate, "--answer-check",
         "the answer check reads the replies of the inputs behind a gate: give the gate too, e.g. --gate 0.1 "
         "--answer-check"),
        (cfg.check_retry is not None and not cfg.answer_check, "--check-retry",
         "a retry answers again what the answer check flags: give the check too, e.g. --answer-check "
         "--check-retry frames"),
        (cfg.check_retry is not None and not cfg.check_retry.strip(), "--check-retry",
         "the retry's system prompt is empty: give a shipped name (frames) or the text"),
        (cfg.steer_floor != 1.0 and not (cfg.method == "steer" and cfg.gate), "--steer-floor",
         "the steering floor is the lower edge of a gated steer's band: use --method steer --gate Q"),
        (cfg.steer_positions not in STEER_POSITIONS, "--steer-positions",
         f"unknown steering positions {cfg.steer_positions!r}; use {' or '.join(STEER_POSITIONS)}"),
        (cfg.steer_positions != "all" and cfg.method != "steer", "--steer-positions",
         f"the steering positions are a steer's: use --method steer, not {cfg.method}"),
        (not cfg.steer_alpha > 0, "--steer-alpha",
         f"the steering strength is a multiple of the refusal direction above 0, got {cfg.steer_alpha:g}"),
        (not 0 <= cfg.steer_floor <= 1, "--steer-floor",
         f"the steering floor is a quantile of the probe's harmless prompts, between 0 and 1, got {cfg.steer_floor:g}"),
        (cfg.gate_by not in GATE_SIGNALS, "--gate-by",
         f"unknown gate signal {cfg.gate_by!r}; use {' or '.join(GATE_SIGNALS)}"),
        (cfg.gate_by != "direction" and not cfg.gate, "--gate-by",
         "the gate signal says what a gate projects on: give the gate too, e.g. --gate 0.1 --gate-by classifier"),
        (bool(cfg.train_from) and not (trains and not cfg.soup), "--train-from",
         f"train_from takes a training's checkpoints: use sft or dpo, not {'a soup' if cfg.soup else cfg.method}"),
        (bool(cfg.train.get("boundary_weight")) and cfg.method != "sft", "--boundary-weight",
         f"the boundary term is added to the sft loss: use sft, not {cfg.method}"),
        (bool(cfg.train.get("sft_weight")) and cfg.method != "dpo", "--dpo-sft-weight",
         f"the NLL term is added to the DPO loss: use dpo, not {cfg.method}"),
        (cfg.train.get("beta") is not None and cfg.method != "dpo", "--dpo-beta",
         f"beta is the DPO loss's: use dpo, not {cfg.method}"),
        (cfg.explained_refusals and not trains, "--explained-refusals",
         f"explained refusals are anchor answers for training: use sft or dpo, not {cfg.method}"),
        (bool(cfg.mine_anchors) and not trains, "--mine-anchors",
         f"mined anchors are a second training: use sft or dpo, not {cfg.method}"),
    ]  # fmt: skip
    for bad, option, message in problems:
        if bad:
            raise ConfigProblem(option, message)
    if cfg.name:
        try:
            check_name(cfg.name)
        except RassError as exc:
            raise ConfigProblem("--name", str(exc)) from None
