"""``rass eval``: answer a benchmark with a model (optionally adapted or steered), judge, report."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rass.cli.errors import guarded
from rass.cli.options import DEFAULT_MODEL, DeviceOpt, DtypeOpt, ModelOpt, ThreadsOpt
from rass.errors import DataError, RassError

console = Console()


def _bench_records(bench: Path) -> list[Any]:
    """``core``, a MORBench folder, a benchmark file, an HF dataset folder, or a folder of JSONL files."""
    from rass.bench.build import core_records, load_bench
    from rass.data.io import read_jsonl, read_records

    if str(bench) == "core":
        return core_records()
    if (bench / "morbench.json").is_file():
        return load_bench(bench)

    if bench.is_dir() and not (bench / "dataset_info.json").exists() and not (bench / "state.json").exists():
        files = sorted(bench.rglob("*.jsonl"))
        if not files:
            raise DataError(f"{bench} holds no benchmark: no *.jsonl files and no saved dataset")
        return [r for f in files for r in read_jsonl(f)]
    return read_records(bench)


def _steer_config(path: Path) -> dict[str, Any]:
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a steering config ({exc})") from None
    if "direction" not in cfg:
        raise DataError(f'{path}: a steering config needs "direction" (a .safetensors file) and "alpha"')
    return cfg


@guarded
def eval_(
    bench: Annotated[
        Path, typer.Option("--bench", help="Benchmark: JSONL/parquet file, HF folder or folder of JSONL.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder; results go to RUN/eval (resumable).")],
    model: ModelOpt = DEFAULT_MODEL,
    adapter: Annotated[Path | None, typer.Option(help="A peft adapter folder trained on this model.")] = None,
    steer: Annotated[Path | None, typer.Option(help='Steering config JSON: {"direction", "alpha", "layer"?}.')] = None,
    mitigation: Annotated[
        Path | None,
        typer.Option(help="A finished mitigation, RUN/mitigate/NAME: its adapter and its guard or band, as evaluated."),
    ] = None,
    backend: Annotated[str, typer.Option(help="transformers or vllm (GPU).")] = "transformers",
    langs: Annotated[str | None, typer.Option(help="Only these languages.")] = None,
    limit: Annotated[
        int, typer.Option(help="At most N items per language x label x kind, in file order (0: all).")
    ] = 0,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = 128,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    logit_check: Annotated[bool, typer.Option(help="Cross-check with the logit judge (transformers).")] = True,
    name: Annotated[str, typer.Option(help="Sub-folder name for this evaluation.")] = "eval",
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Generate, judge (string, logit cross-check) and report over-refusal and safety per language."""
    from rass.data.seeds import cap_per_lang
    from rass.evaluate.backends import TransformersBackend, VLLMBackend
    from rass.evaluate.harness import run_eval
    from rass.runs import RunDir

    if mitigation is not None and (adapter or steer):
        raise typer.BadParameter("a mitigation brings its own adapter and steering: drop --adapter and --steer",
                                 param_hint="--mitigation")  # fmt: skip
    if mitigation is not None:  # complete before a model loads
        from rass.mitigate.apply import read_mitigation

        read_mitigation(mitigation)
    records = _bench_records(bench)
    if langs:
        keep = set(langs.split(","))
        records = [r for r in records if r.lang in keep]
    records = cap_per_lang(records, limit, key=lambda r: (r.lang, r.label, r.kind))
    with ExitStack() as stack:
        chat = None
        answerer: Any = None  # what answers: the model, or a gated mitigation routing each prompt
        if backend == "vllm":
            if adapter or steer or mitigation:
                raise RassError("--adapter, --steer and --mitigation need the transformers backend")
            impl: Any = VLLMBackend(model)
        elif backend == "transformers":
            from rass.models.chat import ChatModel

            chat = ChatModel.load(model, device=device, dtype=dtype, threads=threads or None, batch_size=batch_size)
            if adapter:
                from rass.models.adapters import attach_adapter

                attach_adapter(chat, adapter)
            answerer = chat
            if mitigation is not None:
                from rass.mitigate.apply import answering

                applied, answerer = stack.enter_context(answering(chat, mitigation))
                console.print(applied.describe())
            if steer:
                from rass.directions.vector import SteeringVector

                cfg = _steer_config(steer)
                vec = SteeringVector.load(Path(cfg["direction"]))
                layer = cfg.get("layer", vec.meta.get("chosen_layer"))
                if layer is None:
                    raise DataError(f'{steer}: give "layer" (the direction file names no chosen layer)')
                stack.enter_context(chat.steer(vec.layer_vectors[int(layer)], float(cfg["alpha"]), layers=[int(layer)]))
            impl = TransformersBackend(chat) if answerer is chat else answerer
        else:
            raise typer.BadParameter("use transformers or vllm", param_hint="--backend")
        run = RunDir(out)  # only once the model and its adapter or mitigation are set: no empty run on a refusal
        metrics = run_eval(
            impl, records, run.path(name), logit_chat=answerer if logit_check else None,
            max_new_tokens=max_new_tokens, batch_size=batch_size,
        )  # fmt: skip
    table = Table(title=f"{model} on {bench.name}")
    for col in ("lang", "benign n", "over-refusal [95% CI]", "harmful n", "harmful refused [95% CI]", "S-H"):
        table.add_column(col)

    def cell(m: dict[str, Any] | None) -> str:
        return "-" if not m else f"{m['rate']:.2f} [{m['ci95'][0]:.2f}, {m['ci95'][1]:.2f}]"

    for lang, m in [*metrics["by_lang"].items(), ("ALL", metrics["overall"])]:
        table.add_row(
            lang, str((m["over_refusal"] or {}).get("n", 0)), cell(m["over_refusal"]),
            str((m["harmful_refusal"] or {}).get("n", 0)), cell(m["harmful_refusal"]), str(m["sh_score"]),
        )  # fmt: skip
    console.print(table)
    if "judge_agreement" in metrics:
        console.print(f"string vs logit judge agreement: {metrics['judge_agreement']['string_vs_logit']:.3f}")
