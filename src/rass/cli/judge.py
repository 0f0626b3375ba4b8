"""``rass judge``: classify responses, evaluate judges on the gold set, calibrate the logit judge.

``rass judge FILE --judge string --out OUT`` is short for ``rass judge run FILE …``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from rass.cli.errors import guarded
from rass.cli.options import DEFAULT_MODEL


class _RunByDefault(TyperGroup):
    """Route ``rass judge FILE …`` to ``rass judge run FILE …``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Refusal judges: run on responses, evaluate on the gold set, calibrate.",
    no_args_is_help=True,
)
console = Console()

JudgeOpt = Annotated[str, typer.Option("--judge", "-j", help="string, logit or llm.")]
JudgeModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model SPEC for the logit and llm judges.")]


def _read_responses(path: Path) -> list[dict[str, Any]]:
    from rass.data.io import iter_json_lines
    from rass.data.schema import check_lang
    from rass.errors import DataError

    rows = []
    for n, obj in iter_json_lines(path):
        for key in ("prompt", "response"):
            if not isinstance(obj.get(key), str):
                raise DataError(f"{path}:{n}: missing {key!r} (each line needs prompt and response)")
        if not obj["prompt"].strip():
            raise DataError(f"{path}:{n}: empty prompt")
        try:
            obj["lang"] = check_lang(obj.get("lang") or "en")
        except DataError as exc:
            raise DataError(f"{path}:{n}: {exc}") from None
        rows.append(obj)
    return rows


@app.command()
@guarded
def run(
    responses: Annotated[Path, typer.Argument(help="JSONL with prompt, response and optional lang, id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the judged JSONL.")],
    judge: JudgeOpt = "string",
    model: JudgeModelOpt = DEFAULT_MODEL,
) -> None:
    """Judge every response; each output line gains a ``judgement`` object."""
    from collections import Counter

    from rass.data.io import write_jsonl
    from rass.judge.base import JudgeItem, get_judge

    rows = _read_responses(responses)
    impl = get_judge(judge, model=model)
    verdicts = impl.judge([JudgeItem(r["prompt"], r["response"], r["lang"]) for r in rows])
    write_jsonl(out, [{**r, "judgement": v.to_dict()} for r, v in zip(rows, verdicts, strict=True)])
    counts = Counter(v.label for v in verdicts)
    console.print(f"judged {len(rows)} responses with {judge}: " + ", ".join(f"{k} {n}" for k, n in counts.items()))


@app.command("eval")
@guarded
def eval_(
    judge: JudgeOpt = "string",
    model: JudgeModelOpt = DEFAULT_MODEL,
    split: Annotated[str, typer.Option(help="dev, heldout or all.")] = "all",
    langs: Annotated[str | None, typer.Option(help="Comma-separated languages (default: all).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many items per language (0: all).")] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the full report as JSON.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Accuracy, per-class precision/recall and confusion per language against the gold set."""
    from rass.data.seeds import cap_per_lang
    from rass.judge.base import get_judge
    from rass.judge.gold import evaluate, load_gold

    if split not in ("dev", "heldout", "all"):
        raise typer.BadParameter("use dev, heldout or all", param_hint="--split")
    items = load_gold(langs.split(",") if langs else None, None if split == "all" else [split])
    items = cap_per_lang(items, limit)
    if judge == "logit":
        typer.echo(
            "note: the logit judge predicts the judged model's own decision from the prompt; the gold "
            "responses were not written by that model, so compare it on the model's generations instead "
            "(rass judge calibrate)",
            err=True,
        )
    report = evaluate(get_judge(judge, model=model), items)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(out)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"judge {report['judge']} v{report['version']} on the gold set")
    for col in (
        "lang",
        "split",
        "n",
        "accuracy",
        "refused? acc",
        "P/R refusal",
        "P/R partial",
        "unparseable",
    ):
        table.add_column(col, justify="right" if col != "lang" else "left")
    rows = [(lang, s, m) for lang, d in report["by_lang"].items() for s, m in d.items() if s != "all"]
    rows += [("ALL", s, m) for s, m in report["overall"].items() if s != "all"]
    for lang, s, m in rows:
        pc = m["per_class"]

        def pr(c: str, pc: dict[str, Any] = pc) -> str:
            p, r = pc[c]["precision"], pc[c]["recall"]
            return f"{'-' if p is None else f'{p:.2f}'}/{'-' if r is None else f'{r:.2f}'}"

        table.add_row(
            lang, s, str(m["n"]), f"{m['accuracy']:.3f}", f"{m['binary_accuracy']:.3f}",
            pr("full_refusal"), pr("partial_refusal"), str(m["unparseable"]),
        )  # fmt: skip
    console.print(table)


@app.command()
@guarded
def calibrate(
    responses: Annotated[Path, typer.Argument(help="The model's own generations: JSONL with prompt, response.")],
    model: JudgeModelOpt = DEFAULT_MODEL,
    reference: Annotated[str, typer.Option(help="Judge whose verdicts the threshold should match.")] = "string",
) -> None:
    """Fit the logit judge's threshold to the reference judge's verdicts on real generations."""
    from rass.judge.base import JudgeItem, get_judge
    from rass.judge.logit import LogitJudge, _load

    rows = _read_responses(responses)
    ref = get_judge(reference)
    refused = [v.refused for v in ref.judge([JudgeItem(r["prompt"], r["response"], r["lang"]) for r in rows])]
    record = LogitJudge(_load(model)).calibrate([r["prompt"] for r in rows], refused)
    console.print(
        f"threshold {record['threshold']:+.3f}: agreement {record['accuracy']:.3f} with the "
        f"{reference} judge on {record['n']} generations ({record['refused']} refused)"
    )
