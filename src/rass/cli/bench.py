"""``rass bench``: build MORBench folders (from a RASS run, or MORBench-core from the shipped seeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rass.cli.errors import guarded
from rass.cli.options import DEFAULT_MODEL

app = typer.Typer(help="MORBench: build multilingual over-refusal benchmarks.", no_args_is_help=True)
console = Console()
ALL_LANGS = "en,zh,es,fr,de,ja,ru,ar"


@app.command()
@guarded
def build(
    run: Annotated[Path, typer.Option("--run", help="A run with a RASS selection (select/boundary.jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Benchmark folder to write.")],
    langs: Annotated[str, typer.Option(help="Target languages.")] = ALL_LANGS,
    translator: Annotated[str, typer.Option(help="parallel, apertium, llm or hf.")] = "llm",
    model: Annotated[str, typer.Option("--model", "-m", help="Model SPEC for the llm translator.")] = DEFAULT_MODEL,
    hf_model: Annotated[list[str] | None, typer.Option(help="lang=folder of a local translation model (hf).")] = None,
) -> None:
    """Boundary prompts + harmful contrasts + harmless controls, in every language, with a card."""
    from rass.bench.build import base_from_run, write_bench
    from rass.bench.build import build as build_records
    from rass.bench.translate import (
        LLM_TRANSLATE,
        ApertiumTranslator,
        CachedTranslator,
        HFTranslator,
        LLMTranslator,
        Translator,
    )
    from rass.data.io import parse_map
    from rass.data.schema import check_lang
    from rass.runs import content_key

    targets = [check_lang(x.strip()) for x in langs.split(",") if x.strip()]
    base, boundary_model = base_from_run(run)
    impl: Translator | None = None
    identity: dict[str, object] = {"translator": translator}
    if translator == "apertium":
        impl = ApertiumTranslator()
    elif translator == "hf":
        impl = HFTranslator(parse_map(",".join(hf_model or [])))
        identity["folders"] = sorted(hf_model or [])
    elif translator == "llm":
        from rass.models.chat import ChatModel

        chat = ChatModel.load(model)
        impl = LLMTranslator(chat)
        identity |= {"model": chat.fingerprint or model, "prompt": LLM_TRANSLATE}
    elif translator != "parallel":
        raise typer.BadParameter("use parallel, apertium, llm or hf", param_hint="--translator")
    # translations are appended here as they come, so a killed build resumes; removed once the folder is written
    cache = out.with_name(f".{out.name}.translations.jsonl")
    if impl is not None:
        impl = CachedTranslator(impl, cache, content_key(identity))
        if impl.reused:
            console.print(f"resuming with {impl.reused} translations already made ({cache})")
    records, stats = build_records(base, targets, impl)
    how = (
        f"RASS boundary prompts from {run}, harmful contrasts (their seeds) and harmless controls; "
        f"translator {translator}"
    )
    write_bench(records, out, name="MORBench", how=how, model=boundary_model, stats=stats)
    cache.unlink(missing_ok=True)
    console.print(f"wrote {len(records)} items in {len(targets)} languages to {out}")
    for lang, s in stats.items():
        console.print(f"  {lang}: {s}")


@app.command()
@guarded
def core(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write MORBench-core to.")],
    langs: Annotated[str, typer.Option(help="Languages.")] = ALL_LANGS,
) -> None:
    """Write MORBench-core (shipped parallel seeds, validation + test) as a datasets-loadable folder."""
    from rass.bench.build import core_records, write_bench

    records = core_records(langs.split(","))
    how = "the natively written parallel seed sets shipped with rass (look-alikes, harmful contrasts, controls)"
    write_bench(records, out, name="MORBench-core", how=how, model=None)
    console.print(f"wrote MORBench-core: {len(records)} items to {out}")
