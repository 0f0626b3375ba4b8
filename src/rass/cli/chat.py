"""``rass chat``: one prompt in, the model's reply (and refusal score) out."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from rass.cli.errors import guarded
from rass.cli.options import DEFAULT_MODEL, DeviceOpt, DtypeOpt, ModelOpt, ThreadsOpt


@guarded
def chat(
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    model: ModelOpt = DEFAULT_MODEL,
    system: Annotated[str | None, typer.Option(help="Optional system prompt.")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Reply length limit.")] = 128,
    sample: Annotated[bool, typer.Option(help="Sample instead of greedy decoding.")] = False,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.7,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.9,
    seed: Annotated[int, typer.Option(help="Random seed for sampling.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON record.")] = False,
    mitigation: Annotated[
        Path | None,
        typer.Option(help="A finished mitigation, RUN/mitigate/NAME: answer with its adapter and its guard or band."),
    ] = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Print the model's reply (greedy by default)."""
    from rass.mitigate.apply import answering, read_mitigation
    from rass.models.chat import ChatModel

    if mitigation is not None:  # complete before a model loads
        read_mitigation(mitigation)
    chat_model = ChatModel.load(
        model,
        device=device,
        dtype=dtype,
        threads=threads or None,
        system_prompt=system,
        progress=False,
    )
    with ExitStack() as stack:
        applied, answerer = (
            stack.enter_context(answering(chat_model, mitigation)) if mitigation is not None else (None, chat_model)
        )
        reply = answerer.generate(
            [prompt],
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
        )[0]
        score = float(answerer.refusal_score([prompt])[0])
    if as_json:
        record = {
            "model": model,
            "fingerprint": chat_model.fingerprint,
            "prompt": prompt,
            "system": system,
            "mitigation": applied.describe() if applied else None,
            "response": reply,
            "refusal_score": round(score, 4),
            "refusal_predicted": score > 0,
            "decoding": {"sample": sample, "temperature": temperature, "top_p": top_p, "seed": seed}
            if sample
            else {"sample": False},
            "max_new_tokens": max_new_tokens,
        }
        typer.echo(json.dumps(record, ensure_ascii=False))
    else:
        typer.echo(reply)
        if applied:
            typer.echo(f"[{applied.describe()}]", err=True)
        typer.echo(f"[refusal score {score:+.2f}]", err=True)
