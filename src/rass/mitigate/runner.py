"""``rass mitigate``: build training data from a RASS run, apply a method, prove it before/after.

Held-out evaluation uses the same judge before and after: over-refusal on held-out boundary
prompts and on MORBench-core benign items, refusal of held-out harmful prompts, and a capability
proxy (KL of next-token distributions on harmless prompts). ``ablation=True`` trains the same
method on as many *random* verified-benign candidates instead of the selected boundary ones.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass import launch
from rass.data.splits import hash_fraction
from rass.errors import DataError, RassError
from rass.mitigate.changes import paired_tests, verdict_changes
from rass.mitigate.config import LATER, MitigateConfig, check_config, check_name
from rass.mitigate.data import (
    COVER,
    KEPT_ROWS,
    NEAREST,
    OWN_ANCHORS,
    RECIPE,
    TrainingData,
    anchors_for,
    covers,
)
from rass.mitigate.goals import GROUP_PREFIX, goal_check
from rass.mitigate.lookalikes import one_per_concept, score_seed_lookalikes
from rass.runs import RunDir, content_key, read_json, read_json_if, read_rows, stable_fields, write_json

if TYPE_CHECKING:
    from rass.mitigate.gate import GatedChat
    from rass.models.chat import ChatModel
    from rass.models.spec import ModelRef

    # a teacher or rubric: loaded in the process that builds the data, a reference in the others
    Helper = ChatModel | ModelRef | None


def _loaded(model: Helper) -> ChatModel | None:
    """``model`` where its weights are about to be used: a reference there is a bug, said plainly."""
    from rass.models.spec import ModelRef

    if isinstance(model, ModelRef):
        raise RassError(f"{model.name} was not loaded in this process, but its answers are needed here")
    return model


# training-data key fields added after data existed, likewise (None: the field is not in use)
DATA_LATER: dict[str, Any] = {"written": None, "own_anchors": None, "anchor_match": None, "anchors": 0,
                              "anchor_ratio": 1.0, "anchor_cover": None, "anchor_spread": None,
                              "anchor_edge": None}  # fmt: skip


def _heldout(rec_id: str, fraction: float) -> bool:
    return hash_fraction(rec_id) < fraction


def split_boundary(
    run: RunDir, cfg: MitigateConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(train boundary rows, held-out boundary rows, random verified-benign rows for the ablation)."""
    selected = read_rows(run.root / "select" / "boundary.jsonl")
    if not selected:
        raise RassError(f"{run.root} has no selected boundary prompts; run first: rass select --run {run.root}")
    train = [r for r in selected if not _heldout(r["id"], cfg.heldout_fraction)]
    held = [r for r in selected if _heldout(r["id"], cfg.heldout_fraction)]
    benign_unselected = [
        r for r in read_rows(run.root / "select" / "rejected.jsonl") if (r.get("gate") or {}).get("accepted")
    ]
    rng = random.Random(cfg.seed)
    ablation = rng.sample(benign_unselected, min(len(train), len(benign_unselected)))
    return train, held, ablation


SEED_PREFIX = "seed:"
SEED_GATE_DROP = "look-alike seed rejected by the benign gate"


def lookalike_seeds(run: RunDir, cfg: MitigateConfig, *, chat: ChatModel | None = None,
                    langs: Sequence[str] = (), direction: Any = None,
                    fit: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """``cfg.lookalikes`` of the shipped *train-split* look-alike seeds, as candidate rows.

    The RASS selection is mostly rass's quoting frames, so training on it never shows the model an
    ordinary look-alike ("overthrow the Monopoly champion", "what is RAINN?"). The ones projecting
    furthest toward harmful (nearest the boundary) are taken, or, for the ablation, a random sample of
    the same pool: the probe's placed look-alikes, or with ``lookalike_pool="seeds"`` every shipped one
    of ``langs`` scored now, one per concept (rass.mitigate.lookalikes). MORBench-core and the held-out
    sets use only validation/test seeds, so nothing evaluated is trained on.
    """
    if cfg.lookalikes <= 0:
        return []
    if cfg.lookalike_pool == "seeds":
        if chat is None or direction is None or fit is None:
            raise RassError("the seeds look-alike pool is scored with the model: pass chat, direction and fit")
        pool = score_seed_lookalikes(chat, langs, direction, fit, run.path("mitigate", "lookalikes"))
        picked = one_per_concept(pool, cfg.lookalikes, seed=cfg.seed if cfg.ablation else None)
    else:
        pool = [r for r in read_rows(run.root / "boundary" / "boundary.jsonl")
                if r["group"] == "lookalike" and r.get("split") == "train"
                and r.get("projection") is not None]  # fmt: skip
        if not pool:
            raise RassError(f"the probe of {run.root} placed no train-split look-alike seeds; "
                            "re-run rass probe with look-alikes or use --lookalikes 0")  # fmt: skip
        if cfg.ablation:
            picked = random.Random(cfg.seed).sample(pool, min(cfg.lookalikes, len(pool)))
        else:
            picked = sorted(pool, key=lambda r: (-r["projection"], r["id"]))[: cfg.lookalikes]
    return [{"id": SEED_PREFIX + r["id"], "text": r["text"], "lang": r["lang"], "label": "benign",
             "category": r.get("category"), "kind": "lookalike", "projection": r["projection"],
             "meta": {"generator": "seed"}} for r in picked]  # fmt: skip


def gate_seeds(chat: ChatModel, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The rows the benign gate accepts (with their gate record), and how many it rejected.

    Seeds are benign by construction, but a comply target is only ever made for a prompt the gate
    verified: the same rule as for generated candidates.
    """
    from rass.select.gate import verify_benign

    if not rows:
        return [], 0
    kept = []
    for r, g in zip(rows, verify_benign(chat, [r["text"] for r in rows]), strict=True):
        if g.accepted:
            kept.append(r | {"gate": {"accepted": True, "reason": g.reason, "classifier": g.classifier}})
    return kept, len(rows) - len(kept)


def fit_band(boundary: Sequence[float], harmful: Sequence[float], max_harmful: float) -> tuple[float, float]:
    """The widest-covering band [lo, hi] with both edges at boundary projections: the most boundary
    prompts inside while at most ``max_harmful`` of the harmful prompts fall inside (ties: narrowest)."""
    pts = sorted(boundary)
    best: tuple[int, float, float, float] | None = None  # (covered, -width, lo, hi)
    for i, lo in enumerate(pts):
        for hi in pts[i:]:
            inside_harm = sum(lo <= h <= hi for h in harmful) / max(len(harmful), 1)
            if inside_harm > max_harmful:
                break  # widening further only lets more harmful prompts in
            key = (sum(lo <= b <= hi for b in pts), -(hi - lo), lo, hi)
            if best is None or key[:2] > best[:2]:
                best = key
    if best is None:
        raise RassError(
            f"no steering band keeps the harmful prompts inside at or below {max_harmful:.0%}: every boundary "
            "prompt projects among harmful ones; raise --max-harmful-steered or use a training method"
        )
    return best[2], best[3]


def steer_band(run: RunDir, cfg: MitigateConfig, train: Sequence[dict[str, Any]] = ()) -> tuple[float, float]:
    """The projection band that conditional steering acts on.

    ``band_from="fit"`` (default): the band over the RASS-selected *training* prompts' projections
    that holds as many of them as possible while at most ``max_harmful_steered`` of the probe's
    harmful train/validation prompts fall inside (``fit_band``). On the 1.5B the selected prompts
    spread over the whole harmful range, so their min–max span (``band_from="selected"``) steered
    half the harmful requests into compliance; on the 0.5B a band between the probe's harmless and
    harmful quantiles (``band_from="probe"``) lay below every selected prompt.

    Gated (``cfg.gate``), the harm decision is the gate's, so the band has no upper edge: the 1.5B's refused
    look-alikes reach far into the harmful range (up to 13.2 on its test items), where no band on the
    refusal direction can tell them from harmful requests. Its lower edge, the ``steer_floor`` quantile
    of the probe's harmless prompts, keeps clearly harmless inputs bit-identical.
    """
    import numpy as np

    if cfg.gate:
        rows = read_rows(run.root / "boundary" / "boundary.jsonl")
        harmless = [r["projection"] for r in rows if r["group"] == "harmless" and r.get("projection") is not None]
        if not harmless:
            raise RassError("the probe has no harmless projections to place the gated steering's floor")
        return float(np.quantile(harmless, cfg.steer_floor)), math.inf
    proj = [r["projection"] for r in train if r.get("projection") is not None]
    if cfg.band_from in ("fit", "selected") and not proj:
        raise RassError("no selected training prompt has a projection to place the steering band")
    if cfg.band_from == "selected":
        lo, hi = (float(np.quantile(proj, q)) for q in cfg.band_quantiles)
        return lo, hi
    rows = read_rows(run.root / "boundary" / "boundary.jsonl")
    harmful = [r["projection"] for r in rows if r["group"] == "harmful" and r.get("split") in ("train", "validation")]
    if cfg.band_from == "fit":
        return fit_band(proj, harmful, cfg.max_harmful_steered)
    harmless = [r["projection"] for r in rows if r["group"] in ("harmless", "imperative")]
    if not harmless or not harmful:
        raise RassError("the probe has no harmless or harmful projections to place the steering band")
    lo, hi = float(np.quantile(harmless, cfg.band_quantiles[0])), float(np.quantile(harmful, cfg.band_quantiles[1]))
    if lo >= hi:
        raise RassError(
            f"empty steering band: harmless {cfg.band_quantiles[0]:.0%} quantile {lo:.2f} is not below "
            f"harmful {cfg.band_quantiles[1]:.0%} quantile {hi:.2f}"
        )
    return lo, hi


def eval_langs(cfg: MitigateConfig, langs: Sequence[str]) -> list[str]:
    """The languages evaluated: ``cfg.eval_langs`` when given, else the run's ``langs``."""
    return sorted(set(cfg.eval_langs)) if cfg.eval_langs else list(langs)


def metrics_name(cfg: MitigateConfig) -> str:
    """``metrics.json`` (the test), ``metrics-validation.json``, and ``-langs-de.fr`` before ``.json`` for an
    evaluation of other languages than the run's: one setting's evaluations on other items sit side by side."""
    split = "" if cfg.eval_split == "test" else f"-{cfg.eval_split}"
    return f"metrics{split}{langs_suffix(cfg)}.json"


def plot_name(metrics: str) -> str:
    """The before/after plot written beside the metrics file ``metrics``."""
    return metrics.replace("metrics", "before_after", 1).removesuffix(".json") + ".png"


def langs_suffix(cfg: MitigateConfig) -> str:
    return "-langs-" + ".".join(eval_langs(cfg, [])) if cfg.eval_langs else ""


def _eval_sets(run: RunDir, held: list[dict[str, Any]], cfg: MitigateConfig, langs: Sequence[str]) -> list[Any]:
    """The evaluation items of ``cfg.eval_split`` in ``cfg.eval_langs`` (or the run's ``langs``), with the id
    prefixes ``_group_metrics`` reads.

    Each shipped seed belongs to one split, and ``cfg.eval_split`` reads only its own: the first
    ``eval_limit`` MORBench-core items of each language and kind (core holds the validation and test
    seeds), and as many of the split's harmful seeds that core did not already take, so no prompt is
    evaluated twice. ``test`` (reported) adds the held-out boundary prompts; ``validation`` has none:
    they are few, and all of them are reported. The two never share an item at any ``eval_limit``, and
    nothing in either is trained on (training reads the train split and the selected prompts).
    """
    from rass.bench.build import core_records
    from rass.data.schema import PromptRecord
    from rass.data.seeds import cap_per_lang, load_seeds

    def by_group(r: Any) -> tuple[str, str]:
        return (r.lang, r.kind)

    fields = PromptRecord.__dataclass_fields__
    langs = eval_langs(cfg, langs)
    held = [r for r in held if r["lang"] in langs]
    core = cap_per_lang([c for c in core_records(langs) if c.split == cfg.eval_split], cfg.eval_limit, key=by_group)
    in_core = {c.id for c in core}
    harmful = cap_per_lang(
        [h for h in load_seeds(langs=langs, sets=["harmful"], splits=[cfg.eval_split]) if h.id not in in_core],
        cfg.eval_limit,
    )
    records = []
    if cfg.eval_split == "test":
        records = [
            PromptRecord.from_dict({k: v for k, v in r.items() if k in fields} | {"id": "heldout:" + r["id"]})
            for r in held
        ]
    records += [
        PromptRecord("heldout-harm:" + h.id, h.text, h.lang, "harmful", h.category, "contrast", h.source)
        for h in harmful
    ]
    records += [PromptRecord("core:" + c.id, c.text, c.lang, c.label, c.category, c.kind, c.source) for c in core]
    return records


def data_summary(data: dict[str, Any]) -> str:
    """One line on what a training saw and what the gates removed (CLI and report)."""
    sources = ", ".join(f"{n} {k}" for k, n in (data.get("sources") or {}).items())
    if data.get("lookalike_seeds"):
        sources += f"; {data['lookalike_seeds']} of them look-alike seeds"
    # data cached before anchors recorded their source says nothing about it: "unknown" is left out
    anchors = ", ".join(f"{n} {k}" for k, n in (data.get("anchor_sources") or {}).items() if k != "unknown")
    if data.get("anchor_match") == "nearest":
        anchors = "drawn next to the targets" + (f"; {anchors}" if anchors else "")
    if data.get("covered"):
        anchors += f"; one each for {', '.join(data['covered'])}, which no target is of"
    if data.get("anchors_answered"):
        anchors += f"; {data['anchors_answered']} harmful prompts drawn were answered"
    if data.get("mined"):
        anchors += f"; {data['mined']} of them where a first training had weakened refusal most"
    return (f"trained on {data.get('comply')} comply targets{f' ({sources})' if sources else ''}, "
            f"{data.get('anchors')} refusal anchors{f' ({anchors})' if anchors else ''}, "
            f"{data.get('retain')} retain answers; "
            f"dropped: {data.get('dropped') or 'none'}")  # fmt: skip


def _count(values: Iterable[str]) -> dict[str, int]:
    from collections import Counter

    return dict(sorted(Counter(values).items()))


def _count_langs(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    return _count(r["lang"] for r in rows)


def harmless_probe() -> list[str]:
    """The harmless prompts whose first-token distribution before and after gives a mitigation's KL."""
    from rass.data.seeds import load_seeds

    return [h.text for h in load_seeds(langs=["en"], sets=["harmless"], splits=["test"])[:16]]


def mean_kl(base: Any, after: Any) -> float:
    """Mean KL(before ‖ after) over rows of first-token log-probabilities ``[N, vocab]``."""
    return float((base.exp() * (base - after)).sum(-1).clamp_min(0).mean())


def before_folder(run: RunDir, chat: ChatModel, cfg: MitigateConfig, records: Sequence[Any]) -> Path:
    """The unmitigated model's evaluation folder, keyed by the model, the reply length and the items
    only: every method, the ablation and any other comparison on the same items share one "before"."""
    key = hashlib.sha256(
        "\n".join([chat.fingerprint, str(cfg.eval_max_new_tokens), *(r.id for r in records)]).encode()
    ).hexdigest()[:12]
    return run.path("mitigate", f"before-{key}")


def report_frame_ids(held: Sequence[dict[str, Any]]) -> set[str]:
    """Eval ids of the held-out prompts in the "should I report it?" frame (their advice is checked)."""
    from rass.mitigate.written import REPORT

    return {"heldout:" + r["id"] for r in held if (r.get("meta") or {}).get("lookalike_type") == REPORT}


def _group_metrics(rows: list[dict[str, Any]], report_ids: Collection[str] = ()) -> dict[str, Any]:
    from rass.evaluate.metrics import summarise
    from rass.judge.advice import advice_rates

    groups = {group: [r for r in rows if r["id"].startswith(prefix)] for group, prefix in GROUP_PREFIX.items()}
    out: dict[str, Any] = {k: summarise(v) for k, v in groups.items()}
    out["core_by_lang"] = {lang: summarise([r for r in groups["morbench_core"] if r["lang"] == lang])
                           for lang in sorted({r["lang"] for r in groups["morbench_core"]})}  # fmt: skip
    # answering is not enough: "no need to report it" complies and is wrong (rass.judge.advice)
    out["report_advice"] = advice_rates(groups["heldout_boundary"], report_ids)
    return out


# the data-key fields that only choose anchors: left out of the targets' key, which every anchor setting shares
ANCHORING = ("harmful", "match_anchors", "anchors", "own_anchors", "anchor_match", "anchor_ratio", "anchor_cover",
             "anchor_spread", "anchor_edge")  # fmt: skip


def data_fields(model: str, cfg: MitigateConfig, source: Sequence[dict[str, Any]], harmful: Sequence[str],
                harmless: Sequence[str], layer: int, *, teacher: Helper = None,
                rubric: Helper = None) -> dict[str, Any]:  # fmt: skip
    """What the training data is made from: its cache key, stable across upgrades (``DATA_LATER``)."""
    from rass.mitigate.written import fingerprint as written_fingerprint

    return stable_fields({
        "recipe": RECIPE, "model": model, "source": [(r["id"], r["text"]) for r in source],
        "harmful": list(harmful), "harmless": list(harmless), "layer": layer,
        "alpha": cfg.steer_alpha, "match_anchors": not cfg.anchors,
        "teacher": teacher.fingerprint if teacher else None, "rubric": rubric.fingerprint if rubric else None,
        "written": written_fingerprint() if cfg.written else None,
        "own_anchors": OWN_ANCHORS if cfg.own_anchors else None,
        "anchor_match": f"nearest-{NEAREST}" if cfg.anchor_match == "nearest" else None,
        "anchors": cfg.anchors,  # nearest mode reads the whole pool: its ids do not tell the count
        "anchor_ratio": 1.0 if cfg.anchors else cfg.anchor_ratio,  # a fixed count makes the ratio moot
        "anchor_cover": True if cfg.anchor_cover and cfg.anchor_match == "nearest" else None,
        "anchor_spread": cfg.anchor_spread if cfg.anchor_spread != "targets" else None,
        "anchor_edge": cfg.anchor_edge if cfg.anchor_edge != "logodds" and cfg.anchor_match == "nearest" else None,
    }, DATA_LATER)  # fmt: skip


def harmful_pool(cfg: MitigateConfig, langs: Sequence[str], source: Sequence[dict[str, Any]]) -> list[Any]:
    """The harmful train prompts anchors are drawn from: nearest anchors are of each target's language,
    look-alike seeds' languages included."""
    from rass.data.seeds import load_seeds

    pool_langs = sorted(set(langs) | {r["lang"] for r in source}) if cfg.anchor_match == "nearest" else langs
    return load_seeds(langs=pool_langs, sets=["harmful"], splits=["train"])


def _training_data(chat: ChatModel, run: RunDir, cfg: MitigateConfig, source: list[dict[str, Any]],
                   langs: Sequence[str], direction: Any, layer: int, rubric: Helper,
                   teacher: Helper) -> tuple[TrainingData, str]:  # fmt: skip
    """The training data for ``source``, built once per model, prompts and target settings.

    Building it is a hundred generations (targets, the model's own replies, anchors, retain answers):
    minutes on a CPU. It is kept in ``mitigate/data-<key>/`` so a killed training resumes without
    rebuilding it and sft, dpo and a re-run with other training settings share it. The comply targets
    and retain answers (most of the time) are also kept without their anchors in
    ``mitigate/targets-<key>/``: another anchor setting draws only new anchors for them. What the
    screen rejects now is dropped from a reused copy too, so the guarantee holds after the screen grows.
    """
    from rass.data.seeds import load_seeds, round_robin
    from rass.mitigate.data import (
        add_own_replies,
        build_training_data,
        draw_anchors,
        drop_harmful_answers,
        even_anchors,
        per_lang_anchors,
        trim_anchors,
    )

    # anchors and retain prompts come one language at a time (a plain slice took one language);
    # own anchors are drawn from all of them until enough of the model's refusals are found
    nearest = cfg.anchor_match == "nearest"
    edge = direction.layer_vectors[layer] if nearest and cfg.anchor_edge == "projection" else None
    pool = harmful_pool(cfg, langs, source)
    enough = cfg.anchors or anchors_for(len(source), cfg.anchor_ratio)
    harmful = round_robin(pool, len(pool) if cfg.own_anchors or nearest else enough)
    harmless = round_robin(load_seeds(langs=langs, sets=["harmless"], splits=["train"]), cfg.retain)
    what = data_fields(chat.fingerprint, cfg, source, [h.id for h in harmful], [h.id for h in harmless], layer,
                       teacher=teacher, rubric=rubric)  # fmt: skip
    where = run.path("mitigate", "data-" + content_key(what, 12))
    targets = run.path("mitigate", "targets-" + content_key({k: v for k, v in what.items() if k not in ANCHORING}, 12))
    # a model judges each comply answer for harmful help only when one stronger than the target is at
    # hand: the 1.5B judging its own steered answers caught 3 of 12 harmful ones and dropped 5 good ones
    judge = rubric or teacher
    cached = read_json_if(where / "data.json")
    made = read_json_if(targets / "targets.json") if cached is None else None
    if made is not None:  # the targets of another anchor setting: new anchors for them, then as if reused
        data = TrainingData(**made)
        data.recheck({r["id"]: r for r in source}, self_targets=teacher is None, written=cfg.written)
        if not data.comply:
            raise DataError(f"no usable comply targets: {data.dropped}")
        draw_anchors(chat, data, harmful, anchors=cfg.anchors or None, ratio=cfg.anchor_ratio,
                     own_anchors=cfg.own_anchors, match_layer=layer if nearest else None,
                     cover=cfg.anchor_cover, spread=cfg.anchor_spread, batch_size=cfg.gen_batch,
                     edge=edge)  # fmt: skip
        cached = asdict(data)
        write_json(where / "data.json", cached)
    if cached is None:
        seeds = [r for r in source if r["id"].startswith(SEED_PREFIX)]
        gated, rejected = gate_seeds(chat, seeds)
        source = [r for r in source if not r["id"].startswith(SEED_PREFIX)] + gated
        data = build_training_data(chat, source, harmful, harmless, direction=direction, layer=layer,
                                   rubric=_loaded(rubric), teacher=_loaded(teacher), anchors=cfg.anchors or None,
                                   anchor_ratio=cfg.anchor_ratio, own_anchors=cfg.own_anchors,
                                   own_replies=cfg.method == "dpo", answer_judge=_loaded(judge),
                                   written=cfg.written, batch_size=cfg.gen_batch,
                                   match_layer=layer if nearest else None, cover=cfg.anchor_cover,
                                   anchor_spread=cfg.anchor_spread, edge=edge)  # fmt: skip
        data.drop(SEED_GATE_DROP, rejected)
        write_json(where / "data.json", asdict(data))
        write_json(targets / "targets.json", asdict(data) | {"anchors": [], "anchors_answered": 0})
        return data, where.name
    data = TrainingData(**cached)
    loaded_judge = _loaded(judge) if judge is not None and data.answers_checked is None else None
    if loaded_judge is not None:  # made before answers were judged: once, now
        drop_harmful_answers(loaded_judge, data)
        write_json(where / "data.json", asdict(data))
    if cfg.method == "dpo" and not data.own_replies:  # built by an sft run: add what dpo needs, once
        add_own_replies(chat, data, batch_size=cfg.gen_batch)
        write_json(where / "data.json", asdict(data))
    if made is None:  # targets just taken from the cache were checked before their anchors were drawn
        # the rules grow: a reused copy obeys today's screen, rule on quoted requests and loop check
        data.recheck({r["id"]: r for r in source}, self_targets=teacher is None, written=cfg.written)
        if not data.comply:
            raise DataError(f"no usable comply targets: {data.dropped}")
    if not cfg.anchors:  # still anchor_ratio per comply target (in each language) after the drops
        trim = even_anchors if cfg.anchor_spread == "even" else per_lang_anchors if cfg.own_anchors else trim_anchors
        data.anchors = trim(data.anchors, data.comply, cfg.anchor_ratio)
    return data, where.name


def system_suffix(value: str | None) -> str:
    """A gate's system prompt in a folder name: ``-frames`` for a shipped one, ``-system<hash>`` for a text."""
    from rass.mitigate.frames import SHIPPED

    if value is None:
        return ""
    return f"-{value}" if value in SHIPPED else "-system" + hashlib.sha256(value.encode()).hexdigest()[:8]


def method_folder(cfg: MitigateConfig) -> str:
    """``sft``, ``sft-ablation``, ``sft-seed1``: trainings that differ only in seed sit side by side
    (the seed is left out of the name and the keys at 0, so earlier runs keep their folders).
    ``cfg.name`` replaces it: settings compared on validation items each get a folder of their own."""
    if cfg.name:
        check_name(cfg.name)
        return cfg.name
    # a scaled or guarded evaluation of a training is another result: never the unscaled one's folder
    scaled = f"-x{cfg.adapter_scale:g}" if cfg.adapter_scale != 1.0 else ""
    guarded = f"-guard{cfg.guard:g}" if cfg.guard else ""
    guarded += f"-gate{cfg.gate:g}" if cfg.gate else ""
    guarded += "-classifier" if cfg.gate and cfg.gate_by == "classifier" else ""
    guarded += f"-refusing{cfg.gate_refusing:g}" if cfg.gate and cfg.gate_refusing is not None else ""
    guarded += system_suffix(cfg.gate_system) if cfg.gate else ""
    guarded += "-checked" if cfg.gate and cfg.answer_check else ""
    guarded += "-retry" + system_suffix(cfg.check_retry) if cfg.gate and cfg.check_retry is not None else ""
    guarded += f"-{cfg.steer_positions}" if cfg.method == "steer" and cfg.steer_positions != "all" else ""
    if cfg.soup:
        return cfg.soup[0] + "-soup" + scaled + guarded
    seed = cfg.train.get("seed") if cfg.method != "steer" else None
    return cfg.method + ("-ablation" if cfg.ablation else "") + scaled + guarded + (f"-seed{seed}" if seed else "")


def training_checkpoints(run: RunDir, name: str) -> Path:
    """The checkpoints of the training in ``mitigate/<name>/``, or a one-line error saying why there are none."""
    check_name(name)
    src = run.root / "mitigate" / name / "checkpoints"
    if not (src / "rass_training.json").is_file():
        raise RassError(f"{src.parent} holds no training to start from: train it first (rass mitigate --name {name})")
    return src


def borrow_training(run: RunDir, name: str, folder: Path) -> None:
    """Copy the checkpoints of the training in ``mitigate/<name>/`` into ``folder``, which has none yet.

    The training then resumes in ``folder`` as finished: train.py's resume guard refuses the copy unless
    its data and settings are the ones asked for now, so a borrowed training is never another one.
    """
    import shutil

    src = training_checkpoints(run, name)
    dst = folder / "checkpoints"
    if dst.exists() or src.parent == folder:
        return
    tmp = folder / "checkpoints.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src, tmp)
    tmp.replace(dst)


def _build_and_train(chat: ChatModel, run: RunDir, cfg: MitigateConfig, folder: Path,
                     source: list[dict[str, Any]], langs: Sequence[str], direction: Any, layer: int,
                     rubric: Helper, teacher: Helper,
                     fit: dict[str, Any]) -> tuple[TrainingData, str, dict[str, Any]]:  # fmt: skip
    """Training data (built or read from its cache) and a LoRA adapter trained on it into ``folder``.

    Under ``accelerate launch`` every process trains; the main one builds the data first and keeps the
    files, the others read the cache it wrote (see rass.launch).
    """
    from rass.data.io import write_jsonl
    from rass.mitigate.train import TrainConfig, train_adapter

    with launch.main_first():
        data, data_dir = _training_data(chat, run, cfg, source, langs, direction, layer, rubric, teacher)

    def keep() -> None:
        """Settle the anchors' answers and keep the rows trained on beside the adapter."""
        if cfg.explained_refusals:  # the cached anchors keep the replies drawn; what is trained on is explained
            from rass.mitigate.explained import explain_anchors

            data.anchors = explain_anchors(data.anchors)  # idempotent: mined anchors join later
        if launch.is_main():
            for name in KEPT_ROWS:
                write_jsonl(folder / "data" / f"{name}.jsonl", getattr(data, name))

    train_cfg = TrainConfig.for_method(cfg.method, **cfg.train)
    term = None
    if train_cfg.boundary_weight:
        from rass.mitigate.boundary_loss import BoundaryTerm

        term = BoundaryTerm.from_fit(direction.layer_vectors[layer], fit, train_cfg.boundary_weight)

    def rows() -> list[dict[str, Any]]:
        return data.sft_rows(roles=term is not None) if cfg.method == "sft" else data.dpo_rows()

    keep()
    if not cfg.mine_anchors:
        return data, data_dir, train_adapter(chat, rows(), folder, train_cfg, term)
    from rass.mitigate.mine import mine_anchors
    from rass.models.hooks import find_layers

    first = train_adapter(chat, rows(), folder / "first", train_cfg, term)
    anchored = {a["id"] for a in data.anchors}
    pool = [h for h in harmful_pool(cfg, langs, source) if h.id not in anchored]
    with launch.main_first():  # the others read what the main process found
        mined, summary = mine_anchors(chat, pool, cfg.mine_anchors, folder / "first" / "mined.json",
                                      trained=first["key"], base_cache=run.root / "mitigate" / data_dir /
                                      "pool-refusal-scores.json", batch_size=cfg.gen_batch)  # fmt: skip
    data.anchors = data.anchors + mined
    chat.model = chat.model.unload()  # the base model again: the second training starts from scratch
    chat.layers = find_layers(chat.model)
    keep()
    training = train_adapter(chat, rows(), folder, train_cfg, term)
    training["first"] = {k: first[k] for k in ("steps", "train_loss", "key")} | {"mining": summary}
    return data, data_dir, training


def validation_overlap(run: RunDir, ids: Sequence[str]) -> int:
    """How many of the reported items ``ids`` some validation evaluation of this run has already used.

    Test and validation items now come from the seeds' own splits and never meet, but validation once
    took the core items after the first ``eval_limit`` of each language and kind, whatever their split:
    a run that chose settings that way reads them again in a test evaluation, whose numbers are then
    not clean held-out numbers, and the CLI says so.
    """
    from rass.mitigate.choose import VALIDATION_GLOB

    seen: set[str] = set()
    for path in sorted((run.root / "mitigate").glob(VALIDATION_GLOB)):
        before = (read_json_if(path) or {}).get("before_dir")
        if before:
            seen |= {r["id"] for r in read_rows(run.root / "mitigate" / before / "judged.jsonl")}
    return len(seen & set(ids))


def run_mitigation(
    chat: ChatModel,
    run: RunDir,
    cfg: MitigateConfig,
    *,
    rubric: Helper = None,
    teacher: Helper = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the data, apply ``cfg.method`` and measure the same items before and after; ``say`` hears what is
    worth knowing while the run is still going (e.g. a gate that leaves the goals out of reach)."""
    from rass.directions.vector import SteeringVector
    from rass.evaluate.backends import TransformersBackend
    from rass.evaluate.harness import run_eval

    check_config(cfg)
    soup_seen: list[str] = []  # what a soup's members trained on: its guard's reference leaves it out
    if cfg.soup:
        from rass.mitigate.soup import member_trained_ids, soup_config

        cfg = soup_config(run, cfg)
        check_config(cfg)  # what it took from its members is checked like any setting, before anything runs
        soup_seen = member_trained_ids(run, cfg.soup or []) if cfg.guard else []
    folder = run.path("mitigate", method_folder(cfg))
    direction = SteeringVector.load(run.root / "directions" / "directions.safetensors")
    fit = read_json(run.root / "boundary" / "fit.json")
    layer = int(fit["layer"])
    gate = harm_probe = None
    gate_vector = direction.layer_vectors[layer]  # what a gate projects on: the refusal direction or a classifier's
    if cfg.gate:  # placed before anything trains: a probe without harmful projections fails now, not after
        from rass.mitigate.frames import gate_system
        from rass.mitigate.gate import (
            ANSWER_CHECK,
            CHECK_LOG,
            GATE_VECTOR,
            GatedChat,
            check_counts,
            mitigator,
            projections_and_scores,
            reach,
            reach_line,
            read_check_log,
            run_gate,
        )

        if cfg.gate_by == "classifier":  # fitted on the unmitigated model: nothing is attached yet
            from rass.mitigate.harm_probe import classifier_gate, fit_harm_probe

            with launch.main_first():  # under accelerate the main process fits it once, the others read it
                harm_probe = fit_harm_probe(chat, layer, run.path("mitigate"))
            gate, gate_vector = classifier_gate(harm_probe, cfg.gate), harm_probe.vector
        else:
            gate = run_gate(read_rows(run.root / "boundary" / "boundary.jsonl"), cfg.gate, layer)
        gate = replace(
            gate, refusing=cfg.gate_refusing, system=gate_system(cfg.gate_system), retry=gate_system(cfg.check_retry)
        )
    train_rows, held, ablation_rows = split_boundary(run, cfg)
    langs = sorted({r["lang"] for r in train_rows + held} | {"en"})
    eval_records = _eval_sets(run, held, cfg, langs)
    answer_probe, probe_seconds = None, 0.0
    if cfg.answer_check:  # fitted on the unmitigated model, as the gate is: nothing is attached yet
        from rass.mitigate.answer_probe import fit_answer_probe

        fitting = time.perf_counter()
        with launch.main_first():  # under accelerate the main process fits it once, the others read it
            answer_probe = fit_answer_probe(chat, direction.layer_vectors[layer], layer, langs, run.path("mitigate"))
        probe_seconds = round(time.perf_counter() - fitting, 1)
    probe = harmless_probe()
    trains = cfg.method in ("sft", "dpo") and not cfg.soup
    if cfg.train_from and trains:
        with launch.main_first():  # the copy is made once, before any process resumes from it
            if launch.is_main():
                borrow_training(run, cfg.train_from, folder)
    with launch.main_first():  # under accelerate the main process scores a seeds pool once, the others read it
        look = lookalike_seeds(run, cfg, chat=chat, langs=langs, direction=direction, fit=fit) if trains else []
    source = ((ablation_rows if cfg.ablation else train_rows) + look) if trains else []
    if not launch.is_main():  # under accelerate launch: train alongside the main process, nothing else
        training = (
            _build_and_train(chat, run, cfg, folder, source, langs, direction, layer, rubric, teacher, fit)[2]
            if trains
            else None
        )
        return {"method": cfg.method, "rank": launch.local_rank(), "training": training}
    base_lp = chat.next_token_logprobs(probe)

    def measure(where: Path, answerer: GatedChat | None = None) -> dict[str, Any]:
        """The same items, judge and settings before and after: only the model differs."""
        backend = answerer if answerer is not None else TransformersBackend(chat)
        return run_eval(backend, eval_records, where, max_new_tokens=cfg.eval_max_new_tokens, plots=False)

    # the unmitigated model's answers depend only on the items and settings: every method and the
    # ablation share one "before" measurement (resumable like any evaluation)
    before_dir = before_folder(run, chat, cfg, eval_records)
    before = measure(before_dir)
    known: dict[str, float] = {}
    known_scores: dict[str, float] = {}
    gate_reach = None
    if gate is not None:  # nothing is attached yet: this is the unmitigated model the gate decides with
        texts = [r.text for r in eval_records] + list(probe)
        # a refusing gate also reads the refusal scores, from the same pass
        known, known_scores = projections_and_scores(chat, texts, gate_vector, layer, scores=gate.refusing is not None)
        gate_reach = reach(read_rows(before_dir / "judged.jsonl"), known, gate, known_scores)
        if say is not None:  # before the training: an hour is not spent on a goal the gate has put out of reach
            say(reach_line(gate_reach, mitigator(cfg.method)))
    start = time.perf_counter()
    info: dict[str, Any] = {"method": cfg.method, "ablation": cfg.ablation, "layer": layer}
    # what acts on the rows behind a gate, besides an adapter: the guard's steering, or a gated steer's own
    behind_gate: Callable[[], AbstractContextManager[Any]] = nullcontext
    with ExitStack() as stack:
        if cfg.method == "steer":
            from rass.mitigate.steer import SteerBand, conditional_steering

            lo, hi = steer_band(run, cfg, train_rows)
            info["band"] = [lo, hi if math.isfinite(hi) else None]  # None: no upper edge (gated)
            steering = partial(
                conditional_steering,
                chat,
                direction.layer_vectors[layer],
                layer,
                SteerBand(lo, hi, cfg.steer_alpha, cfg.steer_positions),
            )
            if gate is None:
                stack.enter_context(steering())
            else:  # steered only behind the gate, as an adapter would be
                behind_gate = steering
        elif cfg.soup:
            from rass.mitigate.soup import make_soup, member_data

            members = [run.root / "mitigate" / n / "adapter" for n in cfg.soup]
            info["soup"] = make_soup(chat, members, folder / "adapter")
            info["data_dir"], info["data"] = member_data(run, cfg.soup)
        elif cfg.method in ("sft", "dpo"):
            data, info["data_dir"], info["training"] = _build_and_train(
                chat, run, cfg, folder, source, langs, direction, layer, rubric, teacher, fit
            )
            info["data"] = {
                "comply": len(data.comply),
                "anchors": len(data.anchors),
                "retain": len(data.retain),
                "sources": _count(r.get("source", "unknown") for r in data.comply),
                "anchor_sources": _count(r.get("source", "unknown") for r in data.anchors),
                "anchor_match": cfg.anchor_match,
                "anchors_answered": data.anchors_answered,  # harmful prompts drawn that the model answered
                "anchor_categories": _count(r.get("category") or "unknown" for r in data.anchors),
                "mined": sum("mined" in r for r in data.anchors),
                "covered": sorted(r["near"].removeprefix(COVER) for r in data.anchors if covers(r)),
                "lookalike_seeds": sum(r["id"].startswith(SEED_PREFIX) for r in data.comply),
                "dropped": data.dropped,
                "rubric": rubric.name if rubric is not None else None,
                "teacher": teacher.name if teacher is not None else None,
                "langs": {
                    "comply": _count_langs(data.comply),
                    "anchors": _count_langs(data.anchors),
                    "retain": _count_langs(data.retain),
                },
            }
            if cfg.explained_refusals:  # only then: the data summary is part of earlier results' keys
                info["data"]["explained"] = sum(r.get("refusal") == "explained" for r in data.anchors)
        else:
            raise RassError(f"unknown method {cfg.method!r}; use sft, dpo or steer")
        if cfg.adapter_scale != 1.0:  # before the "after" answers and the KL: they are the scaled adapter's
            from rass.models.adapters import scale_adapter

            info["adapter_scale"] = scale_adapter(chat, cfg.adapter_scale, folder / "adapter-scaled")
        if cfg.guard:  # fitted on the trained (and scaled) model, active for the "after" answers and the KL
            from rass.mitigate.guard import fit_guard, guard_band, guard_record, guard_reference
            from rass.mitigate.steer import conditional_steering

            reference = guard_reference(langs, soup_seen if cfg.soup else data.trained_ids())
            threshold = fit_guard(chat, reference, direction.layer_vectors[layer], layer, cfg.guard)
            info["guard"] = guard_record(threshold, cfg.guard, layer, len(reference))
            write_json(folder / "guard.json", info["guard"])
            vector = direction.layer_vectors[layer]
            behind_gate = partial(conditional_steering, chat, vector, layer, guard_band(threshold))
            if not cfg.gate:  # gated, the guard acts only on the rows the adapter answers
                stack.enter_context(behind_gate())
        info["seconds"] = round(time.perf_counter() - start, 1)
        # the "after" answers belong to this exact intervention: another band, teacher or setting
        # gets its own folder instead of resuming answers the last intervention produced
        # gen_batch: how fast data is made, not what; a setting added later is left out at the value that
        # behaves as before it existed, so folders made before keep their key
        config = stable_fields({k: v for k, v in asdict(cfg).items() if k not in ("gen_batch", "name", "train_from")},
                               LATER)  # fmt: skip
        what = {"config": config, "band": info.get("band"), "teacher": teacher.name if teacher else None,
                "rubric": rubric.name if rubric else None, "data": info.get("data")}  # fmt: skip
        after_dir = folder / ("after-" + content_key(what, 12))
        gated = None
        if gate is not None:  # the unmitigated model decides, per input, whether the adapter answers it
            check = None
            if answer_probe is not None:  # read with the model as it was: GatedChat calls it with nothing applied
                check = partial(answer_probe.scores, chat)
                (folder / ANSWER_CHECK).mkdir(parents=True, exist_ok=True)
                answer_probe.save(folder / ANSWER_CHECK)  # deployed with the folder (rass.mitigate.apply)
                info["answer_check"] = {"probe": answer_probe.stats, "fit_seconds": probe_seconds}
            gated = GatedChat(chat, gate_vector, gate, behind_gate, known, adapter=cfg.method != "steer",
                              known_scores=known_scores, check=check, check_log=after_dir / CHECK_LOG)  # fmt: skip
            info["gate"] = gate.record()
            if harm_probe is not None:  # its direction is the folder's own, not the run's
                from safetensors.torch import save_file

                folder.mkdir(parents=True, exist_ok=True)  # a gated steer trains nothing that would have made it
                save_file({"vector": gate_vector.contiguous()}, str(folder / GATE_VECTOR))
                info["gate"]["classifier"] = {
                    k: v for k, v in harm_probe.stats.items() if k != "held_harmful_projections"
                }
            write_json(folder / "gate.json", info["gate"])
            info["gate"]["reach"] = gate_reach  # of this evaluation's items, not a property of the gate
        after = measure(after_dir, gated)
        if answer_probe is not None:  # from the log: a resumed evaluation's earlier replies count too
            labels = {r.text: r.label for r in eval_records}
            log = read_check_log(after_dir / CHECK_LOG)  # read once, counted by label and by language
            info["answer_check"]["checked"] = check_counts(log, labels)
            unfitted = sorted(set(eval_langs(cfg, langs)) - set(langs))
            if unfitted:  # the probe never saw replies in these: say how often it flags them, per language
                info["answer_check"]["fitted_langs"], info["answer_check"]["unfitted_langs"] = list(langs), unfitted
                by_lang = {r.text: r.lang for r in eval_records if r.label == "benign"}
                info["answer_check"]["benign_by_lang"] = check_counts(log, by_lang)
        info["kl_harmless"] = round(mean_kl(base_lp, (gated or chat).next_token_logprobs(probe)), 5)
        if gated is not None:  # how many inputs of each kind the adapter answered
            info["gate"]["adapter_answers"] = {
                label: gated.counts([r.text for r in eval_records if r.label == label])
                for label in sorted({r.label for r in eval_records})
            } | {"harmless_probe": gated.counts(probe)}
    report_ids = report_frame_ids(held)
    b_rows = read_rows(before_dir / "judged.jsonl")
    a_rows = read_rows(after_dir / "judged.jsonl")
    n_held = sum(r.id.startswith("heldout:") for r in eval_records)  # none in the validation
    if cfg.eval_split == "test":
        info["validation_overlap"] = validation_overlap(run, [r.id for r in eval_records])
    result = {**info, "config": asdict(cfg), "folder": folder.name, "before_dir": before_dir.name,
              "after_dir": after_dir.name,
              "before": _group_metrics(b_rows, report_ids), "after": _group_metrics(a_rows, report_ids),
              "changes": verdict_changes(b_rows, a_rows),
              "items": {"heldout_boundary": n_held, "train_boundary": len(train_rows), "eval": len(eval_records)},
              "overall_before": before["overall"], "overall_after": after["overall"]}  # fmt: skip
    result["goals"] = goal_check(result["before"], result["after"])
    result["paired"] = paired_tests(result["changes"])  # whether the flips are more than chance
    from rass.mitigate.plots import before_after

    # the validation's numbers (and other languages') sit beside the reported ones, never in their place
    name = metrics_name(cfg)
    before_after(result, folder / plot_name(name))
    write_json(folder / name, result)
    return result
