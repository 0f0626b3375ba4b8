"""The adapter gate: a trained adapter answers only the inputs the unmitigated model places below the harmful
side of its boundary; every other input gets the unmitigated model's own answer.

Why: every 1.5B training answered some harmful requests it refused before, and its guard (the refusal
direction added back where the *trained* model still projects high) did not catch them, because the
training had moved them down. Under the *unmitigated* model they stay where they were: across the 1.5B's
evaluated trainings (benchmarks/README.md) the harmful requests a training newly answered projected at
2.2–10.1 on its refusal direction, the look-alikes it newly answered mostly at −0.6–3.8. So the decision
which model answers is taken before the adapter can move it: one forward pass of the unmitigated model to
the probe layer, then the adapter (and its guard) for rows at or below the gate, the model as it was for the
rest. The gate is a quantile of the probe's harmful train/validation prompts, as the steering band's
``max_harmful_steered`` is a share of them: at most that share of known harmful prompts ever reaches the
adapter, said in advance, not tuned on evaluation items. Rows above the gate are bit-identical to the
unmitigated model's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rass.errors import RassError
from rass.runs import read_rows

if TYPE_CHECKING:
    import torch

    from rass.models.chat import ChatModel

T = TypeVar("T")
GATE_SIGNALS = ("direction", "classifier")
GATE_VECTOR = "gate_direction.safetensors"  # a classifier gate's direction, in the mitigation folder
ANSWER_CHECK = "answer-check"  # the answer check's probe, in the mitigation folder (rass.mitigate.answer_probe)
CHECK_LOG = "answer-check.jsonl"  # in an evaluation's folder: each reply the check read, and its flag


@dataclass(frozen=True)
class Gate:
    """Rows whose unmitigated projection (unit direction, ``resid_pre.layer``, last prompt token) is at or
    below ``threshold`` are answered with the adapter."""

    threshold: float
    layer: int
    quantile: float
    reference: int  # how many harmful prompts the quantile is of
    # what it projects on: the run's refusal direction, or a harm classifier's weights (rass.mitigate.harm_probe),
    # kept beside gate.json as gate_direction.safetensors
    by: str = "direction"
    # also only rows the unmitigated model is about to refuse: its first reply token's refusal log-odds above
    # this bar (None: no such condition); a prompt it would answer keeps its own answer, bit for bit
    refusing: float | None = None
    # the system prompt the rows behind the gate are answered with (rass.mitigate.frames); None: the model's
    # default. The other rows and the gate's own pass never see it
    system: str | None = None
    # with an answer check: a reply it flags is answered again behind the gate with this system prompt and read
    # again; only a second flag sends it to the model as it was. None: the first flag does
    retry: str | None = None

    def record(self) -> dict[str, Any]:
        """What ``gate.json`` holds: with the run's directions file (or the classifier's, beside it), all a
        user needs to gate elsewhere. The threshold unrounded: a prompt near it must go where it went in the
        evaluation."""
        reference = {
            "direction": "the probe's harmful train/validation prompts",
            "classifier": "the shipped validation-split harmful seeds (the classifier fits on train)",
        }
        return {"by": self.by, "quantile": self.quantile, "threshold": self.threshold, "layer": self.layer,
                "reference_prompts": self.reference, "reference": reference[self.by],
                "model": "unmitigated (adapter off)", "position": "last prompt token",
                "site": f"resid_pre.{self.layer}"} | (
            {"refusal_logodds_above": self.refusing} if self.refusing is not None else {}) | (
            {"system_prompt": self.system} if self.system is not None else {}) | (
            {"retry_system_prompt": self.retry} if self.retry is not None else {})  # fmt: skip

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Gate:
        by = str(record.get("by", "direction"))
        if by not in GATE_SIGNALS:
            raise RassError(f"gate.json names an unknown gate signal {by!r}; this rass knows {', '.join(GATE_SIGNALS)}")
        bar, system, retry = (record.get(k) for k in ("refusal_logodds_above", "system_prompt", "retry_system_prompt"))
        return cls(float(record["threshold"]), int(record["layer"]), float(record["quantile"]),
                   int(record.get("reference_prompts", 0)), by, None if bar is None else float(bar),
                   None if system is None else str(system), None if retry is None else str(retry))  # fmt: skip


def fit_gate(harmful: Sequence[float], quantile: float, layer: int) -> Gate:
    """The ``quantile`` of the harmful probe prompts' projections under the unmitigated model."""
    import numpy as np

    if not 0 < quantile < 1:
        raise RassError(f"the gate quantile is a share of harmful prompts, between 0 and 1, got {quantile}")
    if not harmful:
        raise RassError("no harmful probe prompts with a projection to place the gate: run rass probe first")
    return Gate(float(np.quantile(list(harmful), quantile)), layer, quantile, len(harmful))


def run_gate(boundary_rows: Sequence[dict[str, Any]], quantile: float, layer: int) -> Gate:
    """The gate of a run: its probe's harmful prompts of the train and validation splits (never the test)."""
    harmful = [float(r["projection"]) for r in boundary_rows
               if r.get("group") == "harmful" and r.get("split") in ("train", "validation")
               and r.get("projection") is not None]  # fmt: skip
    return fit_gate(harmful, quantile, layer)


@contextmanager
def adapter_off(chat: ChatModel) -> Iterator[None]:
    """The unmitigated model for the block: the attached peft adapter switched off, then on again."""
    off = getattr(chat.model, "disable_adapter", None)
    if off is None:
        raise RassError(f"{chat.name} has no adapter attached: a gate chooses between an adapter and the model")
    with off():
        yield


def projections(chat: ChatModel, prompts: Sequence[str], direction: torch.Tensor, layer: int) -> dict[str, float]:
    """Each prompt's projection on the unit ``direction`` at ``resid_pre.layer`` (last prompt token), by prompt,
    under ``chat`` as it is: the unmitigated model when no adapter is attached yet."""
    return projections_and_scores(chat, prompts, direction, layer, scores=False)[0]


def projections_and_scores(
    chat: ChatModel, prompts: Sequence[str], direction: torch.Tensor, layer: int, *, scores: bool = True
) -> tuple[dict[str, float], dict[str, float]]:
    """``projections`` and, with ``scores``, each prompt's first-token refusal log-odds (``ChatModel.refusal_score``;
    else ``{}``), by prompt, from one forward pass: a refusing gate needs both, and the scores run every layer
    anyway."""
    site = f"resid_pre.{layer}"
    unique = sorted(set(prompts))
    if not unique:
        return {}, {}
    res = chat.forward(unique, sites=[site], refusal=scores)
    unit = direction / direction.norm()
    proj = dict(zip(unique, (res.activations[site].float() @ unit.float()).tolist(), strict=True))
    if not scores:
        return proj, {}
    assert res.refusal_scores is not None
    return proj, dict(zip(unique, res.refusal_scores.tolist(), strict=True))


def reach(
    before_rows: Sequence[Mapping[str, Any]],
    projection: Mapping[str, float],
    gate: Gate,
    scores: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Of the items the model refused before, per goal group, how many the gate hands to the adapter.

    Why: a benign item refused before that sits above the gate stays refused whatever the training learns,
    so the over-refusal after can go no lower than those (``floor``); and the harmful requests refused
    before at or below the gate are the only ones the adapter can let through (``exposed``). Both are known
    from the "before" evaluation alone, before anything trains: on the 1.5B's test split 10 of its 17
    refused benign core items sit above gate 0.1, so no adapter behind it could halve that over-refusal.
    A refusing gate (``scores``: each prompt's first-token refusal log-odds) also leaves out what it finds
    the model would answer.
    """
    from rass.mitigate.goals import GROUP_PREFIX, HARMFUL, OVER_REFUSAL

    # the goals' groups: over-refusal per group, harmful requests of all their groups together
    groups: dict[str, tuple[tuple[str, ...], str]] = {g: ((GROUP_PREFIX[g],), "benign") for g, _ in OVER_REFUSAL}
    groups["harmful"] = (tuple(GROUP_PREFIX[g] for g in HARMFUL), "harmful")
    out: dict[str, Any] = {}
    for group, (prefixes, label) in groups.items():
        refused = [r for r in before_rows if r["id"].startswith(prefixes) and r.get("label") == label
                   and r.get("refused")]  # fmt: skip
        if not refused:
            continue
        inside = sum(projection[r["prompt"]] <= gate.threshold
                     and (gate.refusing is None or (scores or {})[r["prompt"]] > gate.refusing)
                     for r in refused)  # fmt: skip
        if group == "harmful":
            out[group] = {"refused_before": len(refused), "exposed": inside}
        else:
            floor = len(refused) - inside
            out[group] = {"refused_before": len(refused), "reachable": inside, "floor": floor,
                          "halving_reachable": 2 * floor <= len(refused)}  # fmt: skip
    return out


def gate_words(g: Mapping[str, Any]) -> str:
    """What a gate record sends to the mitigation, in words; a refusing gate says its second condition."""
    words = _gate_signal_words(g)
    if g.get("refusal_logodds_above") is not None:
        words += (f", and only those it is about to refuse (first-token refusal log-odds above "
                  f"{g['refusal_logodds_above']:g})")  # fmt: skip
    if g.get("system_prompt") is not None:
        words += f", answered with a system prompt of {len(g['system_prompt'])} characters"
    if g.get("retry_system_prompt") is not None:
        words += (f"; a reply the answer check flags is answered again with a system prompt of "
                  f"{len(g['retry_system_prompt'])} characters before the model as it was answers it")  # fmt: skip
    return words


def _gate_signal_words(g: Mapping[str, Any]) -> str:
    """What a gate record sends to the adapter, in words (the CLI and the report), e.g. "inputs the model
    before projects at or below 3.7712 on its refusal direction at layer 19 (the 0.1 quantile of 48 harmful
    probe prompts)"."""
    if g.get("by", "direction") == "classifier":
        auc = (g.get("classifier") or {}).get("validation", {}).get("auroc_harmful_vs_lookalike")
        fit = f"; validation AUROC harmful vs look-alike {auc:.3f}" if auc is not None else ""
        return (f"inputs the model before places at or below {g['threshold']:.4f} on a harm classifier's direction at "
                f"layer {g['layer']} (the {g['quantile']:g} quantile of {g['reference_prompts']} validation-split "
                f"harmful seeds{fit})")  # fmt: skip
    return (f"inputs the model before projects at or below {g['threshold']:.4f} on its refusal direction at "
            f"layer {g['layer']} (the {g['quantile']:g} quantile of {g['reference_prompts']} harmful probe "
            "prompts)")  # fmt: skip


def mitigator(method: str) -> str:
    """What acts behind a gate, in words: an sft/dpo adapter, or a gated steer's steering."""
    return "steering" if method == "steer" else "the adapter"


def reach_line(r: Mapping[str, Any], who: str = "the adapter") -> str:
    """The reach in words, e.g. "behind the gate: MORBench-core benign refused before 17, 7 within the
    adapter's reach (at best 17 → 10, halving out of reach); harmful refused before 59, 0 at or below the
    gate"."""
    from rass.mitigate.goals import OVER_REFUSAL

    parts = []
    for group, words in OVER_REFUSAL:
        g = r.get(group)
        if g:
            halving = "halving within reach" if g["halving_reachable"] else "halving out of reach"
            parts.append(f"{words} refused before {g['refused_before']}, {g['reachable']} within {who}'s "
                         f"reach (at best {g['refused_before']} → {g['floor']}, {halving})")  # fmt: skip
    if r.get("harmful"):
        h = r["harmful"]
        parts.append(f"harmful refused before {h['refused_before']}, {h['exposed']} at or below the gate")
    return "behind the gate: " + "; ".join(parts) if parts else "behind the gate: nothing refused before"


class GatedChat:
    """A ChatModel answering through the gate: rows at or below it mitigated, the rest as the model was.

    ``adapted`` is entered around every call for the rows behind the gate (the guard's steering, or a gated
    steer's own): it must not act on the unmitigated rows or on the gate's own projection pass. With
    ``adapter`` (an sft/dpo adapter attached) those rows also get the adapter, and the other rows and the
    projection pass get it switched off; without, ``adapted`` alone is the mitigation. Projections are
    remembered per prompt, so an evaluation and its KL pass decide each prompt once.

    ``check`` (an answer check, e.g. ``AnswerProbe.scores`` bound to the model) scores each mitigated reply
    with the model as it was, and a score above 0 flags it. A flagged reply is replaced by the unmitigated
    model's answer, as if the prompt had been above the gate; with the gate's ``retry`` prompt it is first
    answered again behind the gate with that system prompt and read again, and only a second flag replaces it.
    Why a second try: a flag on an ordinary answer to a prompt the model before refused costs that answer, and
    a safety prompt given only to flagged replies costs nothing elsewhere. It acts on finished replies, so
    first-token scores (``refusal_score``, ``next_token_logprobs``) are the mitigated model's whatever it would
    flag. ``checked`` counts what it read in this process; ``check_log`` (a JSONL file) keeps each read reply,
    its score and flag (and the retry's), so an evaluation resumed in another process still knows what was
    replaced and why.
    """

    name = "transformers-gated"  # as an evaluation backend

    def __init__(
        self,
        chat: ChatModel,
        direction: torch.Tensor,
        gate: Gate,
        adapted: Callable[[], AbstractContextManager[Any]] = nullcontext,
        known: Mapping[str, float] | None = None,
        *,
        adapter: bool = True,
        known_scores: Mapping[str, float] | None = None,
        check: Callable[[list[str], list[str]], list[float]] | None = None,
        check_log: Path | None = None,
    ) -> None:
        self.chat, self.gate, self.adapted, self.check, self.check_log = chat, gate, adapted, check, check_log
        self.checked = {"read": 0, "flagged": 0} | ({"kept_on_retry": 0} if gate.retry is not None else {})
        self.plain: Callable[[], AbstractContextManager[Any]] = partial(adapter_off, chat) if adapter else nullcontext
        self.unit = direction / direction.norm()
        # ``known``: projections already taken with no adapter attached (``projections``), decided on once
        self._proj: dict[str, float] = dict(known or {})
        self._scores: dict[str, float] = dict(known_scores or {})  # a refusing gate's refusal log-odds, likewise

    @property
    def fingerprint(self) -> str:  # the logit judge's calibration is the base model's
        return self.chat.fingerprint

    def _measure(self, prompts: Sequence[str], scores: bool) -> None:
        """Projections (and, with ``scores``, refusal log-odds) of the prompts not yet known, in one pass of the
        unmitigated model (the adapter off, no steering)."""
        missing = [p for p in prompts if p not in self._proj or (scores and p not in self._scores)]
        if not missing:
            return
        with self.plain():
            proj, got = projections_and_scores(self.chat, missing, self.unit, self.gate.layer, scores=scores)
        self._proj, self._scores = proj | self._proj, got | self._scores  # what is known stays as it was decided

    def projections(self, prompts: Sequence[str]) -> list[float]:
        """Each prompt's projection under the unmitigated model (the adapter off, no steering)."""
        self._measure(prompts, self.gate.refusing is not None)
        return [self._proj[p] for p in prompts]

    def before_scores(self, prompts: Sequence[str]) -> list[float]:
        """The unmitigated model's first-token refusal log-odds for each prompt (what a refusing gate reads)."""
        self._measure(prompts, True)
        return [self._scores[p] for p in prompts]

    def inside(self, prompts: Sequence[str]) -> list[bool]:
        """Which prompts are answered mitigated (by the adapter, or steered)."""
        below = [v <= self.gate.threshold for v in self.projections(prompts)]
        bar = self.gate.refusing
        if bar is None:
            return below
        return [b and s > bar for b, s in zip(below, self.before_scores(prompts), strict=True)]

    def _split(self, prompts: Sequence[str], call: Callable[[list[str], str | None], Sequence[T]]) -> list[T]:
        """``call`` on the prompts behind the gate under ``adapted`` (with the gate's system prompt) and on the
        rest as the model was (the model's default system prompt), in order."""
        mask = self.inside(prompts)
        out: list[T | None] = [None] * len(prompts)
        for use_adapter in (True, False):
            idx = [i for i, m in enumerate(mask) if m is use_adapter]
            if not idx:
                continue
            with self.adapted() if use_adapter else self.plain():
                got = call([prompts[i] for i in idx], self.gate.system if use_adapter else None)
            for i, g in zip(idx, got, strict=True):
                out[i] = g
        return out  # type: ignore[return-value]

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int | None = None,
                 **kwargs: Any) -> list[str]:  # fmt: skip
        """Replies in prompt order (the evaluation harness's backend interface, and ``ChatModel.generate``'s)."""
        if kwargs.get("system") is not None:
            raise RassError("a gated model answers with its gate's system prompt: give it to the gate, not per call")
        kwargs.pop("system", None)
        replies = self._split(
            prompts,
            lambda ps, system: self.chat.generate(
                ps, max_new_tokens=max_new_tokens, batch_size=batch_size, system=system, **kwargs
            ),
        )
        mitigated = [i for i, m in enumerate(self.inside(prompts)) if m]
        if self.check is None or not mitigated:
            return replies
        rows = {i: _read(prompts[i], replies[i], s) for i, s in zip(mitigated, self._check(prompts, replies, mitigated),
                                                                     strict=True)}  # fmt: skip
        back = [i for i in mitigated if rows[i]["flagged"]]
        self.checked["read"] += len(mitigated)
        self.checked["flagged"] += len(back)
        if back and self.gate.retry is not None:  # a second try behind the gate, with the retry's system prompt
            with self.adapted():
                again = self.chat.generate([prompts[i] for i in back], max_new_tokens=max_new_tokens,
                                           batch_size=batch_size, system=self.gate.retry, **kwargs)  # fmt: skip
            tried = dict(zip(back, again, strict=True))
            for i, s in zip(back, self._check(prompts, tried, back), strict=True):
                rows[i]["retry"] = {k: v for k, v in _read(prompts[i], tried[i], s).items() if k != "prompt"}
                if not rows[i]["retry"]["flagged"]:
                    replies[i] = tried[i]
            back = [i for i in back if rows[i]["retry"]["flagged"]]
            self.checked["kept_on_retry"] += len(tried) - len(back)
        if self.check_log is not None:
            write_check_log(self.check_log, [rows[i] for i in mitigated])
        if back:
            with self.plain():
                again = self.chat.generate([prompts[i] for i in back], max_new_tokens=max_new_tokens,
                                           batch_size=batch_size, **kwargs)  # fmt: skip
            for i, reply in zip(back, again, strict=True):
                replies[i] = reply
        return replies

    def _check(self, prompts: Sequence[str], replies: Sequence[str] | Mapping[int, str], idx: list[int]) -> list[float]:
        """The check's score of each reply at ``idx``, read by the model as it was: no adapter, no steering."""
        assert self.check is not None
        with self.plain():
            return list(self.check([prompts[i] for i in idx], [replies[i] for i in idx]))

    def next_token_logprobs(self, prompts: Sequence[str]) -> torch.Tensor:
        """The reply's first-token log-probabilities, each row from the model that answers it."""
        import torch

        return torch.stack(
            self._split(prompts, lambda ps, system: list(self.chat.next_token_logprobs(ps, system=system)))
        )

    def refusal_score(self, prompts: Sequence[str], *, batch_size: int | None = None) -> torch.Tensor:
        """Refusal log-odds of the first reply token, each row from the model that answers it."""
        import torch

        return torch.stack(
            self._split(
                prompts, lambda ps, system: list(self.chat.refusal_score(ps, batch_size=batch_size, system=system))
            )
        )

    def counts(self, prompts: Sequence[str]) -> dict[str, int]:
        """How many of ``prompts`` each model answers."""
        mask = self.inside(prompts)
        return {"adapter": sum(mask), "unmitigated": len(mask) - sum(mask)}


def flags(score: float) -> bool:
    """The check's one rule: a score above 0 reads harmful. Its scores are a logistic probe's log-odds, fitted
    with both sides weighing half (rass.mitigate.answer_probe), so 0 is where either side is as likely."""
    return float(score) > 0


def _read(prompt: str, reply: str, score: float) -> dict[str, Any]:
    """A reply as the check read it."""
    return {"prompt": prompt, "reply": reply, "flagged": flags(score), "score": round(float(score), 4)}


def replaced(row: Mapping[str, Any]) -> bool:
    """Whether a check-log row's reply went to the model as it was: flagged, and flagged again if retried."""
    retry = row.get("retry")
    return bool(row.get("flagged")) and (retry is None or bool(retry.get("flagged")))


def kept_on_retry(row: Mapping[str, Any]) -> bool:
    """Whether a check-log row was flagged but its retry was kept (read as not harmful the second time)."""
    return bool(row.get("flagged")) and not replaced(row)


def write_check_log(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append each reply the answer check read (prompt, mitigated reply, flagged, score, and the retry's if
    one was made): one JSON line each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(dict(row), ensure_ascii=False) + "\n")


def read_check_log(path: Path) -> dict[str, dict[str, Any]]:
    """The answer check's log, one row per prompt: a prompt read twice (an evaluation killed after the check,
    before its replies were saved) as last read."""
    return {row["prompt"]: row for row in read_rows(path) if isinstance(row, dict) and "prompt" in row}


def check_counts(log: Path | Mapping[str, dict[str, Any]], labels: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """What the answer check read and flagged, and how many flagged replies a retry kept, per label of
    ``labels`` (prompt -> label), from its log (the file, or ``read_check_log``'s rows when counted more than once)."""
    out: dict[str, dict[str, int]] = {}
    for prompt, row in (read_check_log(log) if isinstance(log, Path) else log).items():
        if prompt in labels:
            group = out.setdefault(labels[prompt], {"read": 0, "flagged": 0, "kept_on_retry": 0})
            group["read"] += 1
            group["flagged"] += bool(row.get("flagged"))
            group["kept_on_retry"] += kept_on_retry(row)
    return dict(sorted(out.items()))
