"""Refusal-start tokens come from the tokenizer; the score is a correct log-odds."""

from __future__ import annotations

import math

import torch

from rass.models.chat import ChatModel
from rass.models.refusal import refusal_log_odds, refusal_token_ids


def test_refusal_tokens_are_derived_from_the_tokenizer(qwen_tiny: ChatModel) -> None:
    tok = qwen_tiny.tokenizer
    ids = refusal_token_ids(tok)
    pieces = {tok.decode([i]) for i in ids}
    assert {"i", "sorry", "as", "抱歉"} <= pieces  # the tiny tokenizer lower-cases
    assert tok.unk_token_id not in ids
    assert len(ids) == len(set(ids))


def test_generic_or_unknown_first_tokens_are_skipped(qwen_tiny: ChatModel) -> None:
    tok = qwen_tiny.tokenizer
    # an opening made of unknown words yields nothing
    assert refusal_token_ids(tok, ["Zzyzx nope"]) == []
    assert refusal_token_ids(tok, ["Sorry"]) == [tok.convert_tokens_to_ids("sorry")]


def test_log_odds_matches_the_definition() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    got = refusal_log_odds(logits, [0, 3])
    p = torch.softmax(logits, -1)[:, [0, 3]].sum(-1)
    want = torch.log(p) - torch.log1p(-p)
    torch.testing.assert_close(got, want)
    assert math.isclose(float(got[1]), 0.0, abs_tol=1e-6)  # 2 of 4 equal tokens: even odds


def test_log_odds_is_finite_at_the_extremes() -> None:
    logits = torch.tensor([[100.0, -100.0], [-100.0, 100.0]])
    got = refusal_log_odds(logits, [0])
    assert torch.isfinite(got).all()
    assert got[0] > 10 and got[1] < -10


class _FragmentTokenizer:
    """Splits text into fixed 2-character fragments, like a BPE that has no token for a word."""

    unk_token_id = 0

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {"<unk>": 0}

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [self.vocab.setdefault(text[i : i + 2], len(self.vocab)) for i in range(0, len(text), 2)]

    def decode(self, ids: list[int]) -> str:
        inverse = {v: k for k, v in self.vocab.items()}
        return "".join(inverse[i] for i in ids)


def test_a_first_token_shorter_than_half_the_word_is_too_generic() -> None:
    tok = _FragmentTokenizer()
    assert refusal_token_ids(tok, ["Leider"]) == []  # "Le" would fire on every French article
    assert refusal_token_ids(tok, ["Entschuldigung"]) == []  # "En": 2 of 14 letters
    assert refusal_token_ids(tok, ["Je suis"]) == [tok.encode("Je")[0]]  # the whole first word
