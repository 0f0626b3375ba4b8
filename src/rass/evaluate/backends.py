"""Generation backends behind one interface: transformers (default, via ChatModel) and vLLM (GPU).

Both take rendered chat prompts through the same chat template and return plain reply strings in
prompt order, so the harness and its outputs do not depend on which one ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rass.errors import RassError

if TYPE_CHECKING:
    from rass.models.chat import ChatModel


@runtime_checkable
class Backend(Protocol):
    name: str

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int) -> list[str]: ...


class TransformersBackend:
    """Batched, length-bucketed greedy generation with a ChatModel (any interventions active apply)."""

    name = "transformers"

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int) -> list[str]:
        return self.chat.generate(list(prompts), max_new_tokens=max_new_tokens, batch_size=batch_size)


class VLLMBackend:
    """vLLM on a GPU (``pip install rass[vllm]``), imported only when used; greedy like the default.

    The SPEC resolves to the same folder the transformers backend loads; prompts go through the
    model's own chat template, so both backends see identical inputs. ``llm`` accepts an engine
    built by the caller (custom engine arguments, or a stand-in in tests).
    """

    name = "vllm"

    def __init__(self, spec: str, *, llm: Any = None, **engine_args: Any) -> None:
        try:
            import vllm
        except ImportError:
            raise RassError("the vllm backend needs vLLM on a GPU machine: pip install 'rass[vllm]'") from None
        if llm is None:
            from rass.models.spec import model_source

            source, _ = model_source(spec)
            llm = vllm.LLM(model=source, **engine_args)
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int) -> list[str]:
        from vllm import SamplingParams

        texts = [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            for p in prompts
        ]
        # vLLM schedules its own batches (continuous batching): batch_size is not needed here
        outs = self.llm.generate(texts, SamplingParams(temperature=0.0, max_tokens=max_new_tokens))
        return [o.outputs[0].text.strip() for o in outs]
