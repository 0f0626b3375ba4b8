"""The harm classifier the gate can project on (``--gate-by classifier``).

It is a logistic probe on the unmitigated model's hidden state at the probe layer, fitted on the shipped
train-split seeds (harmful against benign and look-alike); its gate is a quantile of validation-split harmful
seeds it never saw. Being affine, it is a direction and a threshold like the refusal-direction gate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rass.data.seeds import load_seeds
from rass.errors import RassError
from rass.mitigate.gate import Gate
from rass.mitigate.harm_probe import HarmProbe, _logistic, classifier_gate, fit_harm_probe
from rass.models.chat import ChatModel

LAYER = 1


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChatModel, HarmProbe, Path]:
    chat = ChatModel.load("tiny:qwen2", progress=False)
    cache = tmp_path_factory.mktemp("mitigate")
    return chat, fit_harm_probe(chat, LAYER, cache), cache


def test_the_logistic_fit_returns_a_direction_and_offset_in_the_activations_own_units() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=gen) * torch.tensor([1.0, 50.0, 1, 1, 1, 1, 1, 1]) + 100.0
    y = (x[:, 0] > 100.0).float()  # harm lives on the first feature, not the loud second one
    vector, offset = _logistic(x, y)
    score = x @ vector + offset
    assert ((score > 0).float() == y).float().mean() > 0.95
    assert abs(float(vector[0])) > 10 * abs(float(vector[1]))
    assert _logistic(x, y)[0].tolist() == vector.tolist()  # deterministic


def test_the_probe_fits_on_train_seeds_and_holds_validation_harmful_seeds_out_for_the_gate(
    fitted: tuple[ChatModel, HarmProbe, Path],
) -> None:
    chat, probe, _ = fitted
    seeds = load_seeds()
    train = [r for r in seeds if r.split == "train"]
    held = [r for r in seeds if r.split == "validation" and r.label == "harmful"]
    assert probe.stats["train"] == {"harmful": sum(r.label == "harmful" for r in train),
                                    "benign": sum(r.label == "benign" for r in train)}  # fmt: skip
    assert probe.stats["validation"]["harmful"] == len(held) == len(probe.stats["held_harmful_projections"])
    assert 0.0 <= probe.stats["validation"]["auroc_harmful_vs_lookalike"] <= 1.0
    assert probe.vector.shape == (chat.hidden_size,) and probe.layer == LAYER
    # the gate: a quantile of the held-out harmful seeds' projections on the probe's unit direction
    gate = classifier_gate(probe, 0.1)
    site = f"resid_pre.{LAYER}"
    proj = chat.forward([r.text for r in held], sites=[site]).activations[site].float() @ (
        probe.vector / probe.vector.norm()
    )
    assert gate.by == "classifier" and gate.reference == len(held)
    assert gate.threshold == pytest.approx(float(np.quantile(proj.tolist(), 0.1)), abs=1e-4)
    assert Gate.from_record(gate.record()) == gate
    assert "validation-split harmful seeds" in gate.record()["reference"]
    with pytest.raises(RassError, match="between 0 and 1"):
        classifier_gate(probe, 1.0)


def test_a_fitted_probe_is_read_back_and_a_killed_fit_resumes_from_its_saved_parts(
    fitted: tuple[ChatModel, HarmProbe, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    chat, probe, cache = fitted
    (folder,) = cache.glob(f"harm-probe-*-L{LAYER}")
    parts = sorted(folder.glob("part-*.safetensors"))
    assert len(parts) > 2
    # finished: read back without a forward pass
    with monkeypatch.context() as m:
        m.setattr(chat, "forward", lambda *a, **k: pytest.fail("a fitted probe is read back"))
        again = fit_harm_probe(chat, LAYER, cache)
    assert again.vector.tolist() == probe.vector.tolist() and again.offset == probe.offset
    # killed before the end: the saved parts are kept, only the missing one is computed again
    (folder / "probe.json").unlink()
    parts[-1].unlink()
    calls: list[int] = []
    forward = chat.forward
    with monkeypatch.context() as m:
        m.setattr(chat, "forward", lambda prompts, **k: calls.append(len(prompts)) or forward(prompts, **k))
        resumed = fit_harm_probe(chat, LAYER, cache)
    assert len(calls) == 1
    assert resumed.vector.tolist() == pytest.approx(probe.vector.tolist(), abs=1e-5)
    assert resumed.stats["held_harmful_projections"] == pytest.approx(probe.stats["held_harmful_projections"], abs=1e-4)
    # another layer is another probe, in a folder of its own
    assert fit_harm_probe(chat, 0, cache).layer == 0 and len(list(cache.glob("harm-probe-*"))) == 2
