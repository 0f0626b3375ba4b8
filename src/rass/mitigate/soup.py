"""A seed soup: one adapter whose weight change is the mean of several training seeds' of one setting.

Why: on the 1.5B one setting's training seeds differ by up to 6 of 58 validation harmful refusals and
4 of 72 benign items, more than the effects compared (benchmarks/README.md). Choosing on their mean is
fair, but a user ships one adapter, not a mean. Averaging the seeds' weight changes (a "model soup")
gives one model; peft's ``cat`` combination does it exactly: the soup's rank is the members' ranks
summed and its delta is the mean of theirs, no SVD approximation.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.errors import RassError
from rass.runs import RunDir, read_json_if, read_rows

if TYPE_CHECKING:
    from rass.mitigate.config import MitigateConfig
    from rass.models.chat import ChatModel

# taken from the call, not from its members: how the soup is evaluated, the scale of its mean (the
# members were trained at scale 1), the guard (each member's was fitted on that member: a soup's is fitted
# on the soup, and only when the call asks), the gate (the model before's, whatever the adapter) and
# train_from (a soup trains nothing)
EVAL_FIELDS = ("eval_split", "eval_limit", "eval_max_new_tokens", "name", "soup", "gen_batch", "adapter_scale",
               "guard", "gate", "gate_by", "gate_refusing", "gate_system", "train_from",
               "answer_check", "check_retry", "eval_langs")  # fmt: skip
STAMP = "rass_soup"  # adapter_config.json key naming the members, so another soup never reuses the folder


def _member_config(run: RunDir, name: str) -> dict[str, Any]:
    """The setting member ``name`` was trained with, as its evaluations recorded it."""
    folder = run.root / "mitigate" / name
    if not (folder / "adapter" / "adapter_config.json").is_file():
        raise RassError(f"{folder} holds no trained adapter: train it first (rass mitigate --name {name} …)")
    configs = [c for c in (((read_json_if(p) or {}).get("config")) for p in sorted(folder.glob("metrics*.json"))) if c]
    if not configs:
        raise RassError(f"{folder} has an adapter but no evaluation saying how it was trained: "
                        f"evaluate it first (rass mitigate --name {name} … again resumes it)")  # fmt: skip
    return configs[0]


def _setting(config: dict[str, Any]) -> dict[str, Any]:
    """What a member *is* (``choose``'s flat setting) less how it was evaluated."""
    from rass.mitigate.choose import flat_config

    return {k: v for k, v in flat_config(config).items() if k not in EVAL_FIELDS}


def soup_config(run: RunDir, cfg: MitigateConfig) -> MitigateConfig:
    """``cfg`` for a soup of ``cfg.soup``: the members' one setting, evaluated as ``cfg`` says.

    The members must be trainings (sft or dpo) of one setting that differ only in their seed: a soup of
    two settings would be a third setting nobody chose. A training option given beside ``soup`` that
    disagrees with the members is refused rather than silently ignored.
    """
    from rass.mitigate.config import MitigateConfig, check_name

    names = list(cfg.soup or [])
    for n in names:
        check_name(n)
    if len(names) < 2 or len(set(names)) != len(names):
        raise RassError(f"a soup needs two or more different trainings, got {', '.join(names) or 'none'}")
    configs = {n: _member_config(run, n) for n in names}
    settings = {n: _setting(c) for n, c in configs.items()}
    first, *rest = names
    setting = settings[first]
    if setting.get("method") not in ("sft", "dpo"):
        raise RassError(f"{first} is not a training (method {setting.get('method')!r}): only sft/dpo adapters mix")
    for other in rest:
        diff = sorted(k for k in set(setting) | set(settings[other]) if setting.get(k) != settings[other].get(k))
        if diff:
            raise RassError(f"{first} and {other} differ in {', '.join(diff)}: a soup averages training seeds of "
                            "one setting")  # fmt: skip
    asked, default = _setting(asdict(cfg)), _setting(asdict(MitigateConfig()))
    clash = sorted(k for k, v in asked.items() if v != default.get(k) and v != setting.get(k))
    if clash:
        raise RassError(f"the soup takes its members' setting; {', '.join(clash)} given here differ from theirs "
                        f"({', '.join(f'{k}={setting.get(k)!r}' for k in clash)}): leave them out")  # fmt: skip
    base = configs[first]
    known = {f.name for f in fields(MitigateConfig)}
    out = MitigateConfig(**{k: v for k, v in base.items() if k in known and k not in EVAL_FIELDS})
    out.train = {k: v for k, v in (base.get("train") or {}).items() if k != "seed"}  # the seeds are mixed
    for k in EVAL_FIELDS:  # the soup's members among them
        setattr(out, k, getattr(cfg, k))
    return out


def make_soup(chat: ChatModel, adapters: Sequence[Path], out: Path) -> dict[str, Any]:
    """Load ``adapters`` on ``chat``, leave their exact mean active, and save it to ``out`` (peft format).

    An ``out`` already holding the soup of the same members is loaded instead of mixed again.
    """
    from peft import PeftModel

    from rass.models.adapters import attach_adapter, check_base
    from rass.models.hooks import find_layers

    members = [str(a) for a in adapters]
    for a in adapters:
        check_base(chat, a)
    if (out / "adapter_config.json").is_file():
        saved = check_base(chat, out)
        if saved.get(STAMP) != members:
            raise RassError(f"{out} holds another adapter: give the soup another --name")
        attach_adapter(chat, out)
        return {"members": members, "rank": saved["r"], "reused": True}
    names = [f"member{i}" for i in range(len(adapters))]
    model = PeftModel.from_pretrained(chat.model, members[0], adapter_name=names[0])
    for name, path in zip(names[1:], members[1:], strict=True):
        model.load_adapter(path, adapter_name=name)
    # "cat": A rows and B columns stacked, each member's A scaled by weight x its own scaling, so the new
    # adapter's B @ A (scaling 1) is exactly the weighted sum of the members' scaled deltas
    model.add_weighted_adapter(names, [1.0 / len(names)] * len(names), "default", combination_type="cat")
    model.set_adapter("default")
    for name in names:
        model.delete_adapter(name)
    tmp = out.with_name(out.name + ".partial")
    for stale in (tmp, out):  # a soup cut short, or a folder left without an adapter in it
        if stale.exists():
            shutil.rmtree(stale)
    model.save_pretrained(str(tmp))
    conf = json.loads((tmp / "adapter_config.json").read_text())
    conf |= {"rass_base_fingerprint": chat.fingerprint, STAMP: members}
    (tmp / "adapter_config.json").write_text(json.dumps(conf, indent=2))
    tmp.replace(out)  # never a half-written adapter under the name evaluations read
    chat.model = model.eval()
    chat.layers = find_layers(chat.model)
    return {"members": members, "rank": conf["r"], "reused": False}


def member_data(run: RunDir, names: Sequence[str]) -> tuple[str | None, dict[str, Any] | None]:
    """(data folder, data summary) the members trained on: one setting, so one data."""
    for p in sorted((run.root / "mitigate" / names[0]).glob("metrics*.json")):
        result = read_json_if(p) or {}
        if result.get("data"):
            return result.get("data_dir"), result["data"]
    return None, None


def member_trained_ids(run: RunDir, names: Sequence[str]) -> list[str]:
    """Every prompt id the members trained on, from the rows each kept beside its adapter (``data/``).

    A guard on the soup is fitted on benign prompts no member saw; without these rows it cannot know which.
    """
    from rass.mitigate.data import KEPT_ROWS

    ids: set[str] = set()
    for name in names:
        files = [run.root / "mitigate" / name / "data" / f"{role}.jsonl" for role in KEPT_ROWS]
        if not all(f.is_file() for f in files):
            raise RassError(f"{run.root / 'mitigate' / name} keeps no rows it trained on (data/*.jsonl), so a guard "
                            "cannot tell which prompts the soup saw: retrain it or leave --guard out")  # fmt: skip
        ids |= {r["id"] for f in files for r in read_rows(f)}
    return sorted(ids)
