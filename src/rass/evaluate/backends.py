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
    """vLLM on a GPU (``pip install rass[vllm]``), imported only when used; greedy like the default."""

    name = "vllm"

    def __init__(self, model_path: str, **engine_args: Any) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise RassError("the vllm backend needs vLLM on a GPU machine: pip install 'rass[vllm]'") from None
        self.llm = LLM(model=model_path, **engine_args)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int) -> list[str]:
        from vllm import SamplingParams

        texts = [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            for p in prompts
        ]
        outs = self.llm.generate(texts, SamplingParams(temperature=0.0, max_tokens=max_new_tokens))
        return [o.outputs[0].text.strip() for o in outs]
