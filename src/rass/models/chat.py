"""ChatModel: one wrapper over a Hugging Face causal LM that every rass stage uses.

It owns chat templating, left-padded batching with length buckets, hidden-state capture at named
sites and token positions, steering/ablation context managers, the cheap refusal score and
generation. It never changes the wrapped model's structure: interventions are hooks that are
removed when their ``with`` block ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from rass.errors import DimensionMismatchError, EmptyInputError, PromptTooLongError, RassError
from rass.models.batching import padding_waste, plan_batches
from rass.models.hooks import HookSet, Positions, find_layers
from rass.models.refusal import refusal_log_odds, refusal_token_ids

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from rass.directions.vector import SteeringVector

Position = Literal["last", "eoi", "user_mean"]
POSITIONS: tuple[str, ...] = ("last", "eoi", "user_mean")


class _StopForward(Exception):
    """Raised by a hook once every requested activation is captured, to skip the upper layers."""


@dataclass
class Encoded:
    """A left-padded batch and where each user message sits in it."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    lengths: list[int]
    user_spans: list[tuple[int, int] | None]


@dataclass
class ForwardResult:
    """Outputs of ``ChatModel.forward`` in the caller's prompt order."""

    activations: dict[str, torch.Tensor] = field(default_factory=dict)
    refusal_scores: torch.Tensor | None = None
    logprobs: torch.Tensor | None = None
    padding_waste: float = 0.0


class ChatModel:
    """A chat LLM plus its tokenizer, with the operations the rass pipeline needs."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        name: str,
        fingerprint: str = "",
        system_prompt: str | None = None,
        batch_size: int = 8,
        progress: bool = True,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.fingerprint = fingerprint
        self.system_prompt = system_prompt
        self.batch_size = batch_size
        self.progress = progress
        self.layers = find_layers(model)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        if not getattr(tokenizer, "chat_template", None):
            raise RassError(f"{name}: the tokenizer has no chat template; rass needs a chat model")
        self._refusal_ids: list[int] | None = None
        self._n_eoi: int | None = None

    # ----------------------------------------------------------------- loading and facts
    @classmethod
    def load(cls, spec: str, **kwargs: Any) -> ChatModel:
        """Load from a SPEC: registry id, local folder, hub id or ``tiny:llama``/``tiny:qwen2``."""
        from rass.models.spec import load_model

        return load_model(spec, **kwargs)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def max_context(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 0) or 2048)

    @property
    def refusal_ids(self) -> list[int]:
        if self._refusal_ids is None:
            self._refusal_ids = refusal_token_ids(self.tokenizer)
            if not self._refusal_ids:
                raise RassError(f"{self.name}: no refusal-start token found in the tokenizer")
        return self._refusal_ids

    @refusal_ids.setter
    def refusal_ids(self, ids: list[int]) -> None:
        self._refusal_ids = list(ids)

    # ----------------------------------------------------------------- templating
    def render(self, prompt: str, system: str | None = None) -> str:
        """The chat-templated text up to the start of the assistant's reply."""
        system = system if system is not None else self.system_prompt
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return str(text)

    def check_prompts(self, prompts: Sequence[str], reserve: int = 0) -> list[int]:
        """Token lengths of the rendered prompts; typed errors for empty or over-long input."""
        if isinstance(prompts, str):
            raise TypeError("pass a list of prompts, not a single string")
        if len(prompts) == 0:
            raise EmptyInputError("the prompt list is empty")
        for i, p in enumerate(prompts):
            if not isinstance(p, str) or not p.strip():
                raise EmptyInputError(f"prompt {i} is empty")
        lengths = [len(self.tokenizer(self.render(p), add_special_tokens=False)["input_ids"]) for p in prompts]
        limit = self.max_context - reserve
        for i, n in enumerate(lengths):
            if n > limit:
                raise PromptTooLongError(
                    f"prompt {i} is {n} tokens long; {self.name} takes at most {limit} "
                    f"({self.max_context} context, {reserve} reserved for the reply)"
                )
        return lengths

    def encode(self, prompts: Sequence[str], system: str | None = None) -> Encoded:
        """Tokenize rendered prompts with left padding; locate each user message's tokens."""

        texts = [self.render(p, system) for p in prompts]
        fast = bool(getattr(self.tokenizer, "is_fast", False))
        enc = self.tokenizer(
            texts,
            add_special_tokens=False,
            padding=True,
            return_tensors="pt",
            return_offsets_mapping=fast,
        )
        mask = enc["attention_mask"]
        lengths = [int(x) for x in mask.sum(1)]
        width = mask.shape[1]
        spans: list[tuple[int, int] | None] = []
        for row, (text, prompt) in enumerate(zip(texts, prompts, strict=True)):
            spans.append(self._user_span(enc, row, text, prompt, width - lengths[row]) if fast else None)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        return Encoded(enc["input_ids"], mask, position_ids, lengths, spans)

    @staticmethod
    def _user_span(enc: Any, row: int, text: str, prompt: str, pad: int) -> tuple[int, int] | None:
        start = text.rfind(prompt)
        if start < 0:
            prompt = prompt.strip()
            start = text.rfind(prompt)
        if start < 0:
            return None
        end = start + len(prompt)
        offsets = enc["offset_mapping"][row].tolist()
        toks = [i for i, (s, e) in enumerate(offsets) if i >= pad and e > start and s < end]
        return (toks[0], toks[-1] + 1) if toks else None

    @property
    def n_eoi(self) -> int:
        """How many template tokens follow the user message (end-of-instruction tokens)."""
        if self._n_eoi is None:
            enc = self.encode(["hello there"])
            span = enc.user_spans[0]
            if span is None:
                raise RassError(f"{self.name}: cannot locate the user message in the chat template")
            self._n_eoi = int(enc.input_ids.shape[1] - span[1])
        return self._n_eoi

    # ----------------------------------------------------------------- forward passes
    def _batches(self, lengths: Sequence[int], batch_size: int | None) -> list[list[int]]:
        return plan_batches(lengths, batch_size or self.batch_size)

    def _progress(self, total: int, n_batches: int, desc: str) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="prompt", disable=not self.progress or n_batches <= 1)

    def forward(
        self,
        prompts: Sequence[str],
        *,
        sites: Sequence[str] = (),
        positions: Position = "last",
        refusal: bool = False,
        logprobs: bool = False,
        batch_size: int | None = None,
        system: str | None = None,
    ) -> ForwardResult:
        """One batched pass: activations at ``sites``, refusal scores and/or next-token log-probs.

        Activations are ``[N, D]`` for ``last``/``user_mean`` and ``[N, n_eoi, D]`` for ``eoi``.
        When only activations are asked for, layers above the deepest site are skipped.
        """
        import torch

        if positions not in POSITIONS:
            raise RassError(f"unknown position {positions!r}; use one of {', '.join(POSITIONS)}")
        for site in sites:
            kind, _, num = site.partition(".")
            if kind not in ("resid_pre", "resid_post") or not num.isdigit() or int(num) >= self.n_layers:
                raise RassError(f"unknown site {site!r}; use resid_pre.L or resid_post.L with L < {self.n_layers}")
        lengths = self.check_prompts(prompts)
        batches = self._batches(lengths, batch_size)
        n = len(prompts)
        result = ForwardResult(padding_waste=padding_waste(lengths, batches))
        acts: dict[str, list[torch.Tensor | None]] = {s: [None] * n for s in sites}
        scores: list[torch.Tensor | None] = [None] * n
        lps: list[torch.Tensor | None] = [None] * n
        need_logits = refusal or logprobs
        stop_site = None if need_logits or not sites else max(sites, key=_site_depth)
        bar = self._progress(n, len(batches), "forward")
        with torch.inference_mode():
            for idx in batches:
                enc = self.encode([prompts[i] for i in idx], system)
                store, out = self._pass(enc.input_ids, enc.attention_mask, sites, self._reducer(enc, positions),
                                        stop_site)  # fmt: skip
                for site in sites:
                    for j, i in enumerate(idx):
                        acts[site][i] = store[site][j]
                if out is not None and need_logits:
                    last = out.logits[:, -1, :].float()
                    if refusal:
                        s = refusal_log_odds(last, self.refusal_ids).cpu()
                        for j, i in enumerate(idx):
                            scores[i] = s[j]
                    if logprobs:
                        lp = torch.log_softmax(last, dim=-1).cpu()
                        for j, i in enumerate(idx):
                            lps[i] = lp[j]
                bar.update(len(idx))
        bar.close()
        result.activations = {s: torch.stack(v) for s, v in acts.items()}  # type: ignore[arg-type]
        if refusal:
            result.refusal_scores = torch.stack(scores)  # type: ignore[arg-type]
        if logprobs:
            result.logprobs = torch.stack(lps)  # type: ignore[arg-type]
        return result

    def _pass(
        self, input_ids: torch.Tensor, mask: torch.Tensor, sites: Sequence[str], reduce: Any, stop_site: str | None
    ) -> tuple[dict[str, torch.Tensor], Any]:
        """One left-padded batch through the model, ``reduce`` applied to the hidden states at each of ``sites``.

        The output carries the last position's logits, or is None when the pass stopped at ``stop_site``
        (the layers above it skipped). Only the hooks added here are removed (transformers keeps its own)."""
        store: dict[str, torch.Tensor] = {}
        out = None
        with HookSet(self.model) as hooks:
            for site in sites:
                hooks.capture(site, _sink(store, site, reduce))
            if stop_site is not None:
                hooks.capture(stop_site, _stop)
            with suppress(_StopForward):
                out = self.model(
                    input_ids=input_ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0).to(self.device),
                    use_cache=False,
                    logits_to_keep=1,
                )
        return store, out

    def _reducer(self, enc: Encoded, positions: Position) -> Any:
        import torch

        if positions == "last":
            return lambda h: h[:, -1, :].detach().float().cpu()
        if positions == "eoi":
            k = self.n_eoi
            return lambda h: h[:, -k:, :].detach().float().cpu()
        if any(s is None for s in enc.user_spans):
            raise RassError(f"{self.name}: cannot locate the user message tokens for user_mean")
        mask = torch.zeros(enc.input_ids.shape, dtype=torch.float32)
        for row, span in enumerate(enc.user_spans):
            assert span is not None
            mask[row, span[0] : span[1]] = 1.0
        return _masked_mean(mask)

    def capture(
        self,
        prompts: Sequence[str],
        layers: Sequence[int] | None = None,
        *,
        site: Literal["resid_pre", "resid_post"] = "resid_pre",
        positions: Position = "last",
        batch_size: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Hidden states named ``{site}.{layer}`` for each layer (all layers by default)."""
        layers = range(self.n_layers) if layers is None else layers
        sites = [f"{site}.{layer}" for layer in layers]
        return self.forward(prompts, sites=sites, positions=positions, batch_size=batch_size).activations

    def refusal_score(
        self, prompts: Sequence[str], *, batch_size: int | None = None, system: str | None = None
    ) -> torch.Tensor:
        """Log-odds that each reply starts like a refusal (one forward pass, no generation)."""
        scores = self.forward(prompts, refusal=True, batch_size=batch_size, system=system).refusal_scores
        assert scores is not None
        return scores

    def next_token_logprobs(
        self, prompts: Sequence[str], *, batch_size: int | None = None, system: str | None = None
    ) -> torch.Tensor:
        """Log-probabilities of the reply's first token, ``[N, vocab]``."""
        lp = self.forward(prompts, logprobs=True, batch_size=batch_size, system=system).logprobs
        assert lp is not None
        return lp

    def reply_activations(
        self,
        prompts: Sequence[str],
        replies: Sequence[str],
        layer: int,
        *,
        batch_size: int | None = None,
        system: str | None = None,
    ) -> torch.Tensor:
        """``resid_pre.layer`` averaged over each reply's tokens, read with the reply in context after its
        rendered prompt, ``[N, D]``; an empty reply reads the prompt's last position. Layers above are skipped.

        The prompt and the reply are tokenized apart and joined, as generation joined them."""
        import torch

        if len(replies) != len(prompts):
            raise RassError(f"{len(prompts)} prompts but {len(replies)} replies")
        if not 0 <= layer < self.n_layers:
            raise RassError(f"layer {layer} out of range for {self.name}'s {self.n_layers} layers")
        self.check_prompts(prompts)
        tok = self.tokenizer
        heads = [tok(self.render(p, system), add_special_tokens=False)["input_ids"] for p in prompts]
        ids = [h + tok(r, add_special_tokens=False)["input_ids"] for h, r in zip(heads, replies, strict=True)]
        too_long = [i for i, x in enumerate(ids) if len(x) > self.max_context]
        if too_long:
            raise PromptTooLongError(f"prompt and reply {too_long[0]} are {len(ids[too_long[0]])} tokens long; "
                                     f"{self.name} takes at most {self.max_context}")  # fmt: skip
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        site = f"resid_pre.{layer}"
        out: list[torch.Tensor | None] = [None] * len(prompts)
        batches = self._batches([len(x) for x in ids], batch_size)
        bar = self._progress(len(prompts), len(batches), "read replies")
        with torch.inference_mode():
            for idx in batches:
                width = max(len(ids[i]) for i in idx)
                input_ids = torch.tensor([[pad] * (width - len(ids[i])) + ids[i] for i in idx])
                mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in idx])
                reply = torch.zeros(mask.shape, dtype=torch.float32)
                for row, i in enumerate(idx):  # the reply's tokens, or the prompt's last one if it has none
                    start = width - len(ids[i]) + len(heads[i])
                    reply[row, min(start, width - 1) :] = 1.0
                store, _ = self._pass(input_ids, mask, [site], _masked_mean(reply), site)
                for row, i in enumerate(idx):
                    out[i] = store[site][row]
                bar.update(len(idx))
        bar.close()
        return torch.stack(out)  # type: ignore[arg-type]

    # ----------------------------------------------------------------- generation
    def generation_config(
        self,
        max_new_tokens: int,
        *,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        min_new_tokens: int = 0,
    ) -> Any:
        """The ``GenerationConfig`` every reply is made with: stops at any of the model's end tokens, no
        sampling knobs from the checkpoint's own config unless ``do_sample``."""
        from transformers import GenerationConfig

        eos = self.model.generation_config.eos_token_id
        eos_ids = sorted(
            {
                *(eos if isinstance(eos, list) else [eos] if eos is not None else []),
                self.tokenizer.eos_token_id,
            }
            - {None}
        )
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens or None,
            do_sample=do_sample,
            temperature=temperature if do_sample else None,
            top_p=top_p if do_sample else None,
            top_k=None,
            repetition_penalty=None,
            eos_token_id=eos_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 64,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        min_new_tokens: int = 0,
        seed: int | None = None,
        batch_size: int | None = None,
        system: str | None = None,
    ) -> list[str]:
        """Replies in prompt order; greedy unless ``do_sample``. Batches are length-bucketed."""
        import torch

        lengths = self.check_prompts(prompts, reserve=max_new_tokens)
        config = self.generation_config(
            max_new_tokens, do_sample=do_sample, temperature=temperature, top_p=top_p, min_new_tokens=min_new_tokens
        )
        if seed is not None:
            torch.manual_seed(seed)
        replies: list[str] = [""] * len(prompts)
        batches = self._batches(lengths, batch_size)
        bar = self._progress(len(prompts), len(batches), "generate")
        with torch.inference_mode():
            for idx in batches:
                enc = self.encode([prompts[i] for i in idx], system)
                out = self.model.generate(
                    input_ids=enc.input_ids.to(self.device),
                    attention_mask=enc.attention_mask.to(self.device),
                    generation_config=config,
                )
                new = out[:, enc.input_ids.shape[1] :]
                for j, i in enumerate(idx):
                    replies[i] = str(self.tokenizer.decode(new[j], skip_special_tokens=True)).strip()
                bar.update(len(idx))
        bar.close()
        return replies

    # ----------------------------------------------------------------- interventions
    def _layer_vectors(
        self, vector: SteeringVector | torch.Tensor, layers: Sequence[int] | None
    ) -> dict[int, torch.Tensor]:
        import torch

        if isinstance(vector, torch.Tensor):
            if vector.dim() != 1 or vector.shape[0] != self.hidden_size:
                raise DimensionMismatchError(
                    f"direction has shape {tuple(vector.shape)} but {self.name} has hidden size {self.hidden_size}"
                )
            chosen = list(range(self.n_layers)) if layers is None else list(layers)
            vectors = {layer: vector for layer in chosen}
        else:
            vector.check(self.hidden_size, self.n_layers)
            vectors = dict((vector.select(list(layers)) if layers is not None else vector).layer_vectors)
        bad = [k for k in vectors if not 0 <= k < self.n_layers]
        if bad:
            raise DimensionMismatchError(f"layers {bad} out of range for {self.n_layers} layers")
        return vectors

    @contextmanager
    def steer(
        self,
        vector: SteeringVector | torch.Tensor,
        alpha: float = 1.0,
        *,
        layers: Sequence[int] | None = None,
        positions: Positions = "all",
    ) -> Iterator[HookSet]:
        """Add ``alpha * v`` to the stream entering each layer while the block runs.

        A bare tensor needs ``layers`` (default: every layer); a SteeringVector brings its own.
        ``positions``: ``prompt`` (the prompt pass), ``generated`` (each new token) or ``all``.
        """
        vectors = self._layer_vectors(vector, layers)
        with HookSet(self.model) as hooks:
            for layer, v in vectors.items():
                hooks.add(layer, v, float(alpha), positions)
            yield hooks

    @contextmanager
    def ablate(
        self,
        direction: SteeringVector | torch.Tensor,
        *,
        layers: Sequence[int] | None = None,
        positions: Positions = "all",
    ) -> Iterator[HookSet]:
        """Project the direction out of the stream entering each layer (all layers by default)."""
        vectors = self._layer_vectors(direction, layers)
        with HookSet(self.model) as hooks:
            for layer, v in vectors.items():
                hooks.ablate(layer, v, positions)
            yield hooks


def _site_depth(site: str) -> tuple[int, int]:
    kind, _, idx = site.partition(".")
    return int(idx), 1 if kind == "resid_post" else 0


def _masked_mean(mask: torch.Tensor) -> Any:
    """A reducer: each row's hidden states averaged over the positions ``mask`` (``[batch, seq]``) marks."""

    def mean(h: torch.Tensor) -> torch.Tensor:
        m = mask.to(h.device).unsqueeze(-1)
        return ((h.float() * m).sum(1) / m.sum(1)).detach().cpu()

    return mean


def _sink(store: dict[str, Any], site: str, reduce: Any) -> Any:
    def sink(hidden: Any) -> None:
        store[site] = reduce(hidden)

    return sink


def _stop(hidden: Any) -> None:
    raise _StopForward
