"""A finished mitigation put to use outside ``rass mitigate``: on any loaded model, in one call.

What ``rass choose`` says to ship is more than an adapter folder: the adapter may have been evaluated
scaled (``adapter-scaled/``), a guard may steer at inference (``guard.json``), and ``steer`` has no adapter
at all, only a band. ``mitigated`` reads the mitigation folder's own record of what its "after" answers
were produced with and sets the model up the same way, so a notebook, ``rass chat`` or a serving script
answer as the evaluated model did.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.errors import RassError
from rass.mitigate.answer_probe import AnswerProbe
from rass.mitigate.gate import ANSWER_CHECK, GATE_VECTOR, Gate, GatedChat
from rass.mitigate.guard import guard_band
from rass.mitigate.steer import SteerBand
from rass.runs import read_json_if

if TYPE_CHECKING:
    import torch

    from rass.directions.vector import SteeringVector
    from rass.models.chat import ChatModel

METRICS = ("metrics.json", "metrics-validation.json")  # the test evaluation's record first


def adapter_name(record: dict[str, Any]) -> str:
    """The adapter folder a result's "after" answers were made with: the scaled one if it was scaled."""
    return "adapter-scaled" if record.get("adapter_scale") else "adapter"


@dataclass(frozen=True)
class Mitigation:
    """What one mitigation folder deploys: an adapter, a steering band on the run's direction, or both."""

    folder: Path
    method: str
    layer: int
    adapter: Path | None
    band: SteerBand | None
    band_kind: str | None  # "guard" (adds the direction above a threshold) or "steer" (subtracts it in a band)
    gate: Gate | None = None  # the adapter answers only inputs the unmitigated model projects at or below it
    check: AnswerProbe | None = None  # reads each reply behind the gate; a flagged one is answered unmitigated

    def describe(self) -> str:
        """One line for a log: what is applied, as the folder names it."""
        parts = [f"{self.method} from {self.folder}"]
        if self.adapter is not None:
            parts.append(f"adapter {self.adapter.name}/")
        if self.band is not None:
            where = ", the last prompt position and after" if self.band.positions == "last" else ""
            parts.append(
                f"{self.band_kind} at layer {self.layer} on projections {self.band.lo:.4g}..{self.band.hi:.4g}{where}"
            )
        if self.gate is not None:
            who = "the adapter answers" if self.adapter is not None else "steered are"
            refusing = f" with refusal log-odds > {self.gate.refusing:g}" if self.gate.refusing is not None else ""
            system = ", with the gate's system prompt" if self.gate.system is not None else ""
            parts.append(f"gated: {who} unmitigated projections <= {self.gate.threshold:.4g}{refusing}{system}")
        if self.check is not None:
            again = "answered again with the retry's system prompt, then if read as harmful again " if (
                self.gate is not None and self.gate.retry is not None) else ""  # fmt: skip
            parts.append(f"answer check at layer {self.check.layer}: a reply it reads as harmful is {again}answered "
                         "by the model as it was")  # fmt: skip
        return ", ".join(parts)


def read_mitigation(folder: Path) -> Mitigation:
    """The mitigation ``folder`` (``RUN/mitigate/NAME``) holds, checked complete before anything loads."""
    if not folder.is_dir():
        raise RassError(f"{folder} is not a mitigation folder: name one in RUN/mitigate/, e.g. runs/demo/mitigate/sft")
    record: dict[str, Any] | None = next(
        (r for r in (read_json_if(folder / name) for name in METRICS) if r is not None), None
    )
    if record is None:
        raise RassError(f"{folder} holds no finished mitigation (no metrics.json): run rass mitigate first")
    if "method" not in record:  # e.g. a shared before-* evaluation, whose metrics.json is the harness's
        raise RassError(f"{folder} holds no mitigation: its metrics file names no method (before-*, data-* and "
                        "lookalikes are shared by every method); name one rass mitigate wrote to")  # fmt: skip
    method, layer = str(record["method"]), int(record.get("layer", -1))
    adapter = band = kind = gate = None
    if method in ("sft", "dpo"):
        adapter = folder / adapter_name(record)
        if not (adapter / "adapter_config.json").is_file():
            raise RassError(f"{folder} was evaluated with {adapter.name}/, which is missing or incomplete")
        guard = record.get("guard")
        if guard:  # its own file is what a user copies; the record says it was on for the "after" answers
            guard = read_json_if(folder / "guard.json") or guard
            band, kind, layer = (
                guard_band(float(guard["threshold"]), float(guard["alpha"])),
                "guard",
                int(guard["layer"]),
            )
    elif method == "steer":
        lo, hi = record.get("band") or (None, None)
        if lo is None or (hi is None and not record.get("gate")):  # only a gated band has no upper edge
            raise RassError(f"{folder} records no steering band: re-run rass mitigate --method steer")
        hi = math.inf if hi is None else float(hi)
        config = record.get("config", {})
        alpha, positions = float(config.get("steer_alpha", 1.0)), str(config.get("steer_positions", "all"))
        band = SteerBand(float(lo), hi, alpha, positions)
        kind = "steer"
    else:
        raise RassError(f"{folder} records an unknown method {method!r}")
    if record.get("gate"):  # like the guard: its own file first
        gate = Gate.from_record(read_json_if(folder / "gate.json") or record["gate"])
        layer = gate.layer
        if gate.by == "classifier" and not (folder / GATE_VECTOR).is_file():
            raise RassError(f"{folder} was gated by a harm classifier whose direction {GATE_VECTOR} is missing")
    if (band is not None or gate is not None) and layer < 0:
        raise RassError(f"{folder} records no probe layer for its steering")
    check = None
    if record.get("answer_check"):  # its replies were read by the probe saved beside the gate
        check = AnswerProbe.read(folder / ANSWER_CHECK, layer)
        if check is None:
            raise RassError(f"{folder} was evaluated with an answer check whose probe {ANSWER_CHECK}/ is missing")
    return Mitigation(folder=folder, method=method, layer=layer, adapter=adapter, band=band, band_kind=kind, gate=gate,
                      check=check)  # fmt: skip


def _prepare(chat: ChatModel, m: Mitigation) -> SteeringVector | None:
    """The run's direction of ``m`` loaded where it steers or gates on it (a classifier gate keeps its own
    direction in the folder), and its adapter attached."""
    from rass.directions.vector import SteeringVector
    from rass.models.adapters import attach_adapter, check_base

    folder = m.folder
    direction = None
    if m.band is not None or (m.gate is not None and m.gate.by != "classifier"):
        path = folder.parent.parent / "directions" / "directions.safetensors"
        if folder.parent.name != "mitigate" or not path.is_file():
            raise RassError(f"the steering of {folder} needs its run's directions: {path} is missing")
        direction = SteeringVector.load(path)
        direction.check(chat.hidden_size, chat.n_layers)
        if m.layer not in direction.layer_vectors:
            raise RassError(f"{path} has no direction at layer {m.layer}, where {folder} steers")
    if m.adapter is not None:
        check_base(chat, m.adapter)  # before steering hooks: a wrong base fails with nothing attached
        attach_adapter(chat, m.adapter)
    return direction


@contextmanager
def mitigated(chat: ChatModel, folder: Path) -> Iterator[Mitigation]:
    """``chat`` answering as the mitigation in ``folder`` was evaluated: its adapter attached (in place; it
    stays after the block) and its guard or steering band hooked in (removed when the block ends).

    The steering direction is the run's (``RUN/directions/directions.safetensors``), at the probe layer.
    A gated mitigation chooses a model per prompt, which no hook on ``chat`` can: use ``answering``.
    """
    from rass.mitigate.steer import conditional_steering

    m = read_mitigation(folder)
    if m.gate is not None:
        raise RassError(f"{folder} is gated: answer through rass.mitigate.apply.answering(chat, folder), "
                        "which sends each prompt to the adapter or to the model as the evaluation did")  # fmt: skip
    direction = _prepare(chat, m)
    if direction is None or m.band is None:
        yield m
        return
    with conditional_steering(chat, direction.layer_vectors[m.layer], m.layer, m.band):
        yield m


@contextmanager
def answering(chat: ChatModel, folder: Path) -> Iterator[tuple[Mitigation, ChatModel | GatedChat]]:
    """Any mitigation, gated or not, and what to answer with: ``chat`` set up as ``mitigated`` does, or for
    a gated one a ``GatedChat`` that sends each prompt to the adapter (and its guard), or steers it, or leaves
    it to the model as it was.
    Both answer ``generate``, ``next_token_logprobs`` and ``refusal_score`` alike."""
    from rass.mitigate.steer import conditional_steering

    m = read_mitigation(folder)
    if m.gate is None:
        with mitigated(chat, folder) as same:
            yield same, chat
        return
    direction = _prepare(chat, m)
    vector = None if direction is None else direction.layer_vectors[m.layer]
    guard_on: Callable[[], AbstractContextManager[Any]] = nullcontext
    if m.band is not None:
        assert vector is not None  # a band always loads the run's direction
        guard_on = partial(conditional_steering, chat, vector, m.layer, m.band)
    on = gate_vector(chat, m) if m.gate.by == "classifier" else vector
    assert on is not None  # a refusal-direction gate loads the run's direction
    check = None if m.check is None else partial(m.check.scores, chat)
    yield m, GatedChat(chat, on, m.gate, guard_on, adapter=m.adapter is not None, check=check)


def gate_vector(chat: ChatModel, m: Mitigation) -> torch.Tensor:
    """A classifier gate's direction, kept in the mitigation folder (the run's directions hold no such one)."""
    from safetensors.torch import load_file

    path = m.folder / GATE_VECTOR
    vector = load_file(str(path)).get("vector")
    if vector is None or vector.shape != (chat.hidden_size,):
        raise RassError(f"{path} holds no gate direction of {chat.name}'s hidden size {chat.hidden_size}")
    return vector
