"""LoRA SFT and DPO with peft + trl (no hand-written training loop), resumable from checkpoints.

CPU defaults are small on purpose (r=8 on the attention projections, short sequences); on GPUs the
same code runs unchanged under ``accelerate launch`` (trl's trainers are accelerate-native).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rass.errors import DataError, RassError

if TYPE_CHECKING:
    from rass.mitigate.boundary_loss import BoundaryTerm
    from rass.models.chat import ChatModel


@dataclass
class TrainConfig:
    method: str = "sft"  # sft | dpo
    r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    # one epoch of ~10 steps on a CPU: at 2e-4 the 1.5B kept its old answers word for word (boundary
    # over-refusal 0.26 -> 0.32); at 1e-3 it learned them (0.26 -> 0.00, harmful refusal 0.72 -> 0.94)
    learning_rate: float = 1e-3
    epochs: float = 1.0
    batch_size: int = 4
    grad_accum: int = 2
    max_length: int = 256
    beta: float = 0.1  # DPO
    # DPO: weight of an NLL term on the chosen answer added to the DPO loss (trl loss_type "sft"; RPO).
    # 0: plain DPO, which on the 0.5B drove its loss to 0.007 in 8 steps by refusing more
    sft_weight: float = 0.0
    seed: int = 0
    save_steps: int = 20
    max_steps: int = -1
    # recompute activations in the backward pass: saves memory, costs compute. None: on for an
    # accelerator (memory is what runs out), off on a CPU (RAM is ample for a 1.5B, time is not)
    checkpointing: bool | None = None
    # the order examples reach the optimizer: "random", or "batch_rebalance" (random optimizer-step
    # sets, each cut into micro-batches of similar length: less padding; sft only, dpo's paired rows
    # have no single length). Without checkpointing, an epoch of 32 rows of the 1.5B took 271 s
    # random, 194 s rebalanced (benchmarks/bench_mitigate_speed.py). None: rebalanced for sft.
    sampling: str | None = None
    # sft: weight of the boundary term (rass.mitigate.boundary_loss): a hinge that pushes comply prompts
    # below the probe's threshold and keeps anchors above it, at the probe layer. 0: trl's loss alone. Off:
    # on the 1.5B's validation items W=1 left 5 and 6 of 72 benign items refused (seeds 4, 0; plain SFT 3, 5)
    # while keeping more harmful refusals (45, 52 of 58; plain 46, 45)
    boundary_weight: float = 0.0

    @classmethod
    def for_method(cls, method: str, **settings: Any) -> TrainConfig:
        """The settings of ``method``: its own defaults (``METHOD_DEFAULTS``) under the ones given."""
        return cls(method=method, **(METHOD_DEFAULTS.get(method, {}) | settings))


# DPO puts four sequences through the model per row (chosen and rejected, policy and reference with the
# adapter off). At sft's 4 rows per micro-batch the 1.5B's DPO peaked at 18 GiB on a CPU; 2 rows with
# twice the accumulation (the same effective batch) peaked lower and ran faster (bench_dpo_memory.py)
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {"dpo": {"batch_size": 2, "grad_accum": 4}}
SAMPLINGS = ("random", "batch_rebalance")
# transformers builds its BatchRebalanceSampler with this fixed seed whatever ``args.seed`` says, so every
# training seed saw one order (a "seed 1" run of the 1.5B landed on seed 0's very items). rass offsets it
# by the training seed: seed 0 keeps transformers' order, any other seed gets its own.
REBALANCE_SEED = 42


def _sampling(cfg: TrainConfig) -> str:
    if cfg.sampling is None:
        return "batch_rebalance" if cfg.method == "sft" else "random"
    if cfg.sampling not in SAMPLINGS:
        raise RassError(f"unknown sampling {cfg.sampling!r}; use {' or '.join(SAMPLINGS)}")
    if cfg.sampling == "batch_rebalance" and cfg.method != "sft":
        raise RassError("batch_rebalance sampling needs one length per row: sft only; use random for dpo")
    return cfg.sampling


def _require_train_extras() -> None:
    try:
        import peft  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        raise RassError("training needs peft and trl: pip install 'rass[train]'") from None


def train_adapter(
    chat: ChatModel, rows: list[dict[str, Any]], out: Path, cfg: TrainConfig, boundary: BoundaryTerm | None = None
) -> dict[str, Any]:
    """Train a LoRA adapter on ``rows`` (trl conversational format); resume from ``out`` if present.

    With ``cfg.boundary_weight`` the sft loss adds ``boundary``'s hinge (rows carry their roles).
    """
    _require_train_extras()
    if not rows:
        raise DataError("no training rows")
    if cfg.boundary_weight and cfg.method != "sft":
        raise RassError("the boundary term is added to the sft loss: use --method sft, or drop --boundary-weight")
    if cfg.boundary_weight and boundary is None:
        raise RassError("a boundary weight needs the probe's boundary (its direction and fit) to train against")
    term = boundary if cfg.boundary_weight else None
    from datasets import Dataset
    from peft import LoraConfig

    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules, task_type="CAUSAL_LM")  # fmt: skip
    common: dict[str, Any] = {
        "output_dir": str(out / "checkpoints"),
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.epochs,
        "per_device_train_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "max_length": cfg.max_length,
        "logging_steps": 1,
        "save_steps": cfg.save_steps,
        "save_total_limit": 2,
        "report_to": [],
        "seed": cfg.seed,
        "use_cpu": chat.device.type == "cpu",
        "max_steps": cfg.max_steps,
        "bf16": False,
        "fp16": False,
        "gradient_checkpointing": chat.device.type != "cpu" if cfg.checkpointing is None else cfg.checkpointing,
        "train_sampling_strategy": _sampling(cfg),
    }
    dataset = Dataset.from_list(rows)

    def make_trainer(batch: int, accum: int, model: Any, peft: Any) -> Any:
        args = {**common, "per_device_train_batch_size": batch, "gradient_accumulation_steps": accum}
        if cfg.method == "sft":
            from trl import SFTConfig, SFTTrainer

            trainer_cls = _seeded_order(SFTTrainer)
            if term is not None:
                from rass.mitigate.boundary_loss import with_boundary_term

                trainer_cls = with_boundary_term(trainer_cls, term)
            return trainer_cls(model=model, args=SFTConfig(**args), train_dataset=dataset,
                               processing_class=chat.tokenizer, peft_config=peft)  # fmt: skip
        if cfg.method == "dpo":
            from trl import DPOConfig, DPOTrainer

            losses: dict[str, Any] = (
                {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, cfg.sft_weight]} if cfg.sft_weight else {}
            )
            return DPOTrainer(model=model, args=DPOConfig(beta=cfg.beta, **losses, **args), train_dataset=dataset,
                              processing_class=chat.tokenizer, peft_config=peft)  # fmt: skip
        raise RassError(f"unknown training method {cfg.method!r}; use sft or dpo")

    from rass.launch import is_main, launched, local_rank, wait
    from rass.runs import content_key

    what = {"config": _config_key(cfg), "rows": rows, "base": chat.fingerprint}
    if term is not None:
        what["boundary"] = term.key()
    if is_main():  # under accelerate launch every process trains, the main one keeps the files
        _guard_resume(out / "checkpoints", what)
    wait()
    batch, accum = cfg.batch_size, cfg.grad_accum
    trainer = make_trainer(batch, accum, chat.model, lora)
    while True:
        checkpoints = sorted((out / "checkpoints").glob("checkpoint-*")) if (out / "checkpoints").is_dir() else []
        try:
            result = trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
            break
        except (MemoryError, RuntimeError) as exc:  # torch.OutOfMemoryError is a RuntimeError
            if not _out_of_memory(exc):
                raise
            if batch == 1:
                raise RassError(
                    "out of memory even at batch size 1: lower --max-length, use a smaller model or a GPU"
                ) from None
            if launched():  # the others would go on at the old batch and wait on this one for hours
                raise RassError(
                    f"out of memory in process {local_rank()} at batch size {batch}: under a launch every "
                    "process must step alike, so rass does not shrink one; rerun with --train-batch-size "
                    f"{batch // 2} --grad-accum {accum * 2} (the same effective batch)"
                ) from None
            # the same effective batch in smaller pieces; the LoRA-wrapped model is reused as is
            batch, accum = batch // 2, accum * 2
            _free_memory()
            trainer = make_trainer(batch, accum, trainer.model, None)
    adapter = out / "adapter"
    if is_main():
        import json

        trainer.model.save_pretrained(str(adapter))
        cfg_path = adapter / "adapter_config.json"
        conf = json.loads(cfg_path.read_text())
        conf["rass_base_fingerprint"] = chat.fingerprint
        cfg_path.write_text(json.dumps(conf, indent=2))
    wait()
    log = [e for e in trainer.state.log_history if "loss" in e]
    # every step is logged: their mean is the epoch's loss, also when a resumed training had nothing left
    # to run (transformers then reports 0.0)
    train_loss = sum(float(e["loss"]) for e in log) / len(log) if log else result.training_loss
    chat.model = trainer.model.eval()
    from rass.models.hooks import find_layers

    chat.layers = find_layers(chat.model)
    result_info = {
        "config": asdict(cfg), "batch_size_used": batch, "grad_accum_used": accum, "train_loss": train_loss,
        "log": log, "steps": trainer.state.global_step, "adapter": str(adapter), "key": content_key(what),
    }  # fmt: skip
    if term is not None:  # the hinge per micro-batch this process ran (a resumed training: since the resume)
        result_info["boundary"] = term.key() | {"penalty": [round(v, 4) for v in trainer.boundary_log]}
    return result_info


def _seeded_order(trainer_cls: type) -> type:
    """``trainer_cls`` whose rebalanced order follows the training seed (see REBALANCE_SEED)."""
    from transformers.trainer_pt_utils import BatchRebalanceSampler

    class Seeded(trainer_cls):
        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> Any:
            sampler = super()._get_train_sampler(*args, **kwargs)
            if isinstance(sampler, BatchRebalanceSampler):
                sampler.seed = REBALANCE_SEED + self.args.seed
            return sampler

    return Seeded


# settings added after checkpoints existed: at these values (the behaviour before they existed) they stay
# out of the checkpoint key, so an upgrade does not refuse to resume a training it would continue alike
_ADDED_LATER: dict[str, Any] = {"sft_weight": 0.0, "sampling": "random", "boundary_weight": 0.0}
# settings that change how training runs, not what it computes: a resume may change them
_HOW_NOT_WHAT = {"checkpointing"}


def _config_key(cfg: TrainConfig) -> dict[str, Any]:
    from rass.runs import stable_fields

    what = {k: v for k, v in (asdict(cfg) | {"sampling": _sampling(cfg)}).items() if k not in _HOW_NOT_WHAT}
    key = stable_fields(what, _ADDED_LATER)
    if _sampling(cfg) == "batch_rebalance" and cfg.seed:
        # before the order followed the seed, such checkpoints were made in seed 0's order: never resume them
        key["order_seed"] = REBALANCE_SEED + cfg.seed
    return key


def _guard_resume(folder: Path, what: dict[str, Any]) -> None:
    """Resume only checkpoints made from the same base, data and settings; never mix two trainings."""
    import json

    from rass.runs import content_key

    key = content_key(what)
    # the settings as they are, the rest (rows, base) by digest: enough to say what differs, and small
    parts = json.loads(json.dumps({k: v if isinstance(v, dict) else content_key(v) for k, v in what.items()},
                                  default=str))  # fmt: skip
    stamp = folder / "rass_training.json"
    try:
        saved = json.loads(stamp.read_text()) if stamp.is_file() else {}
    except ValueError:  # cut short: whose checkpoints they are is unknown, so they are not resumed
        saved = {"key": None}
    if saved and saved.get("key") != key:
        raise RassError(f"{folder} holds checkpoints of a training with {_differences(saved.get('parts'), parts)}; "
                        "give the same settings to resume it, or another --name (or run) to train afresh")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"key": key, "parts": parts}))


def _differences(saved: Any, now: dict[str, Any]) -> str:
    """What sets two trainings apart, named (stamps older than this kept only their key)."""
    if not isinstance(saved, dict):
        return "other data or settings"
    diff = []
    for k in sorted(set(saved) | set(now)):
        a, b = saved.get(k), now.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            diff += [f"{k}.{j} {a.get(j)!r} there, {b.get(j)!r} now" for j in sorted(set(a) | set(b))
                     if a.get(j) != b.get(j)]  # fmt: skip
        elif a != b:
            diff.append(f"other {k}")
    return "other data or settings: " + "; ".join(diff) if diff else "other data or settings"


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
