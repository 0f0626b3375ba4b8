"""Entry point of the ``rass`` command. Imports nothing heavy: commands import what they use."""

from __future__ import annotations

import os

import typer

from rass import __version__
from rass.cli import bench as bench_cmd
from rass.cli import chat as chat_cmd
from rass.cli import data as data_cmd
from rass.cli import evaluate as eval_cmd
from rass.cli import judge as judge_cmd
from rass.cli import mitigate as mitigate_cmd
from rass.cli import models as models_cmd
from rass.cli import probe as probe_cmd
from rass.cli import run as run_cmd
from rass.cli import select as select_cmd

app = typer.Typer(
    name="rass",
    help="Find and fix over-refusal at a chat model's safety decision boundary.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_cmd.app, name="models")
app.add_typer(data_cmd.app, name="data")
app.add_typer(judge_cmd.app, name="judge")
app.add_typer(bench_cmd.app, name="bench")
app.command("chat")(chat_cmd.chat)
app.command("probe")(probe_cmd.probe)
app.command("generate")(select_cmd.generate)
app.command("select")(select_cmd.select)
app.command("eval")(eval_cmd.eval_)
app.command("mitigate")(mitigate_cmd.mitigate)
app.command("choose")(mitigate_cmd.choose)
app.command("run")(run_cmd.run)
app.command("report")(run_cmd.report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rass {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """rass: probe, select, benchmark and mitigate over-refusal."""


def main() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":
    main()
