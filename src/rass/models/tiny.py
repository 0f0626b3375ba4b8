"""``tiny:llama`` / ``tiny:qwen2``: randomly initialised few-layer chat models built in memory.

They have a word-level tokenizer and a ChatML template, so every code path (templating, left
padding, capture, steering, refusal score, generation) runs in milliseconds with no download.
Outputs are meaningless; the plumbing is real.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

FAMILIES = ("llama", "qwen2")

SPECIALS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]

# Enough words for the refusal openings of several languages, test prompts and some filler.
_WORDS = [
    "i",
    "i'm",
    "sorry",
    "cannot",
    "can't",
    "can",
    "not",
    "help",
    "with",
    "that",
    "as",
    "an",
    "ai",
    "language",
    "model",
    "assist",
    "apologize",
    "unfortunately",
    "lo",
    "siento",
    "no",
    "puedo",
    "je",
    "suis",
    "désolé",
    "ne",
    "peux",
    "pas",
    "es",
    "tut",
    "mir",
    "leid",
    "leider",
    "kann",
    "ich",
    "nicht",
    "抱歉",
    "对不起",
    "无法",
    "申し訳",
    "ありません",
    "できません",
    "извините",
    "к",
    "сожалению",
    "не",
    "могу",
    "عذرًا",
    "لا",
    "أستطيع",
    "how",
    "do",
    "what",
    "is",
    "the",
    "a",
    "to",
    "of",
    "in",
    "and",
    "or",
    "for",
    "you",
    "your",
    "my",
    "me",
    "it",
    "this",
    "please",
    "can",
    "could",
    "would",
    "kill",
    "process",
    "python",
    "list",
    "reverse",
    "build",
    "bomb",
    "pipe",
    "balloon",
    "blow",
    "up",
    "make",
    "write",
    "story",
    "poem",
    "code",
    "sure",
    "here",
    "are",
    "steps",
    "first",
    "then",
    "finally",
    "yes",
    "okay",
    "of",
    "course",
    "certainly",
    "hi",
    "hello",
    "thanks",
    "world",
    "user",
    "assistant",
    "system",
    "harmful",
    "harmless",
    "benign",
    "refuse",
    "comply",
    "question",
    "answer",
    "tell",
    "explain",
    ".",
    ",",
    "?",
    "!",
    "'",
    ":",
    ";",
    "-",
    "(",
    ")",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A whitespace/punctuation word-level tokenizer with ChatML specials and a chat template."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for word in [*SPECIALS, "user", "assistant", "system", *_WORDS]:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
        model_max_length=512,
    )


def build_model(family: str, vocab_size: int, *, seed: int = 0, layers: int = 4) -> PreTrainedModel:
    """A random causal LM of the given family: hidden 32, ``layers`` layers, 4 heads (2 KV)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        eos_token_id=3,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    if family == "llama":
        config: Any = LlamaConfig(**common)
    elif family == "qwen2":
        config = Qwen2Config(**common)
    else:  # pragma: no cover - guarded by the spec parser
        raise ValueError(family)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 3
    model.eval()
    return model


def build(family: str, *, seed: int = 0, layers: int = 4) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    tokenizer = build_tokenizer()
    return build_model(family, len(tokenizer), seed=seed, layers=layers), tokenizer
