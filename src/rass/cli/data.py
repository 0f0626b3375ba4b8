"""``rass data``: import, validate and summarise prompt files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rass.cli.errors import guarded

app = typer.Typer(help="Prompt data: import, validate, stats.", no_args_is_help=True)
console = Console()


@app.command("import")
@guarded
def import_(
    src: Annotated[Path, typer.Argument(help="CSV, TSV, parquet, JSONL or a saved HF dataset folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: .jsonl, .parquet or a folder (HF).")],
    fmt: Annotated[str | None, typer.Option("--format", help="Input format if the suffix is ambiguous.")] = None,
    text_col: Annotated[str, typer.Option(help="Column holding the prompt.")] = "text",
    label_col: Annotated[str | None, typer.Option(help="Column holding the label.")] = "label",
    label_map: Annotated[str | None, typer.Option(help="e.g. safe=benign,unsafe=harmful")] = None,
    label: Annotated[str | None, typer.Option(help="One label for every row (no label column).")] = None,
    id_col: Annotated[str | None, typer.Option(help="Column with stable ids (default: row numbers).")] = None,
    lang: Annotated[str, typer.Option(help="BCP-47 language of every row.")] = "en",
    lang_col: Annotated[str | None, typer.Option(help="Column holding a BCP-47 tag per row.")] = None,
    category_col: Annotated[str | None, typer.Option(help="Column holding a harm category.")] = None,
    category_map: Annotated[str | None, typer.Option(help="e.g. 'Violent Crimes=violence'")] = None,
    kind: Annotated[str, typer.Option(help="kind of every record.")] = "imported",
    source: Annotated[str | None, typer.Option(help="source field (default: the file name).")] = None,
    split: Annotated[bool, typer.Option(help="Assign fixed train/validation/test splits.")] = True,
) -> None:
    """Import a prompt file into the rass schema (nothing is written if any row is bad)."""
    from rass.data.io import ColumnMap, parse_map, read_records, write_records
    from rass.data.splits import with_splits

    cmap = ColumnMap(
        text_col=text_col,
        label_col=None if label else label_col,
        label_map=parse_map(label_map),
        id_col=id_col,
        lang_col=lang_col,
        lang=lang,
        category_col=category_col,
        category_map=parse_map(category_map),
        default_label=label,
        kind=kind,
        source=source,
    )
    records = read_records(src, fmt, cmap)
    if split:
        with_splits(records)
    write_records(records, out)
    console.print(f"imported {len(records)} records from {src} → {out}")


@app.command()
@guarded
def validate(
    files: Annotated[list[Path], typer.Argument(help="Files or HF dataset folders in the rass schema.")],
) -> None:
    """Check files against the schema: JSON, fields, labels, languages, unique ids."""
    from rass.data.io import read_records

    for path in files:
        records = read_records(path)
        console.print(f"{path}: {len(records)} records OK")


@app.command()
@guarded
def stats(
    files: Annotated[list[Path] | None, typer.Argument(help="Files to summarise (default: shipped seeds).")] = None,
    by: Annotated[str, typer.Option(help="Comma-separated fields to group by.")] = "lang,label,kind",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts by language × label × category (or any fields) for files or the shipped seed sets."""
    from rass.data.io import read_records
    from rass.data.seeds import load_seeds

    records = [r for f in files for r in read_records(f)] if files else load_seeds()
    fields = [f.strip() for f in by.split(",") if f.strip()]
    bad = [f for f in fields if f not in ("lang", "label", "category", "kind", "split", "source")]
    if bad:
        raise typer.BadParameter(f"cannot group by {bad[0]!r}", param_hint="--by")
    counts = Counter(tuple(str(getattr(r, f)) for f in fields) for r in records)
    if as_json:
        rows = [dict(zip(fields, key, strict=True)) | {"count": n} for key, n in sorted(counts.items())]
        typer.echo(json.dumps({"total": len(records), "groups": rows}, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(records)} records")
    for f in fields:
        table.add_column(f)
    table.add_column("count", justify="right")
    for key, n in sorted(counts.items()):
        table.add_row(*key, str(n))
    console.print(table)
