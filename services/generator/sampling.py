"""Sampling settings (supil.v1.SamplingOptions with the 2021 defaults) and the logits pipeline."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from services.runtime import InvalidArgument
from supil.v1 import generator_pb2


@dataclass(frozen=True)
class SamplingSettings:
    """How a writer samples and drafts; defaults are the 2021 team's (see docs/generator.md)."""

    top_k: int = 30
    top_p: float = 0.95
    temperature: float = 1.0
    repetition_penalty: float = 2.0
    no_repeat_ngram_size: int = 0
    seed: int = 42
    chunk_tokens: int = 128  # tokens sampled before the context is re-anchored on the carried sentences
    carry_sentences: int = 2  # sentences carried as the next chunk's prompt
    min_paragraph_chars: int = 1000  # a paragraph may end (at a newline) only past this
    max_copied_span: int = 50  # longest span a paragraph may share with the writer's training documents

    @classmethod
    def from_proto(cls, options: generator_pb2.SamplingOptions | None) -> SamplingSettings:
        """Settings from a request's SamplingOptions: set fields win, unset ones keep the defaults."""
        values = {}
        if options is not None:
            for f in fields(cls):
                if options.HasField(f.name):
                    values[f.name] = getattr(options, f.name)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self, context_tokens: int | None = None) -> None:
        """Raise InvalidArgument naming the first absurd value (and chunk_tokens beyond the context)."""
        if self.top_k < 0:
            raise InvalidArgument(f"sampling.top_k {self.top_k} must be 0 (off) or positive")
        if not 0.0 < self.top_p <= 1.0:
            raise InvalidArgument(f"sampling.top_p {self.top_p} must be in (0, 1]")
        if not 0.0 < self.temperature <= 10.0:
            raise InvalidArgument(f"sampling.temperature {self.temperature} must be in (0, 10]")
        if not 1.0 <= self.repetition_penalty <= 10.0:
            raise InvalidArgument(f"sampling.repetition_penalty {self.repetition_penalty} must be in [1, 10]")
        if not 0 <= self.no_repeat_ngram_size <= 64:
            raise InvalidArgument(f"sampling.no_repeat_ngram_size {self.no_repeat_ngram_size} must be 0-64")
        if self.seed < 0:
            raise InvalidArgument(f"sampling.seed {self.seed} must not be negative")
        if self.chunk_tokens < 8:
            raise InvalidArgument(f"sampling.chunk_tokens {self.chunk_tokens} must be at least 8")
        if not 0 <= self.carry_sentences <= 20:
            raise InvalidArgument(f"sampling.carry_sentences {self.carry_sentences} must be 0-20")
        if not 1 <= self.min_paragraph_chars <= 100_000:
            raise InvalidArgument(f"sampling.min_paragraph_chars {self.min_paragraph_chars} must be 1-100000")
        if not 16 <= self.max_copied_span <= 100_000:
            raise InvalidArgument(f"sampling.max_copied_span {self.max_copied_span} must be 16-100000")
        if context_tokens is not None and self.chunk_tokens >= context_tokens:
            raise InvalidArgument(
                f"sampling.chunk_tokens {self.chunk_tokens} does not fit the writer's context of "
                f"{context_tokens} tokens (leave room for the carried sentences)"
            )


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> None:
    """CTRL-style penalty, as transformers applies it: tokens already in the context lose likelihood.

    seen is a (batch, vocab) boolean mask of tokens in each row's context; logits change in place.
    """
    if penalty == 1.0:
        return
    penalized = torch.where(logits > 0, logits / penalty, logits * penalty)
    logits.copy_(torch.where(seen, penalized, logits))


def banned_ngram_tokens(tokens: list[int], size: int) -> list[int]:
    """Tokens that would complete an n-gram (n = size) already present in tokens."""
    if size <= 0 or len(tokens) < size:
        return []
    prefix = tuple(tokens[len(tokens) - size + 1 :])
    banned = []
    for i in range(len(tokens) - size + 1):
        if tuple(tokens[i : i + size - 1]) == prefix:
            banned.append(tokens[i + size - 1])
    return banned


class NgramBans:
    """banned_ngram_tokens kept up to date token by token: a table from each (n-1)-gram to its next tokens.

    Rescanning the whole context for every sampled token is quadratic in the chunk; this adds one
    n-gram per token and answers with one dictionary lookup.
    """

    def __init__(self, size: int, tokens: list[int] | None = None) -> None:
        self.size = size
        self.tokens: list[int] = []
        self.table: dict[tuple[int, ...], set[int]] = {}
        for token in tokens or ():
            self.add(token)

    def add(self, token: int) -> None:
        """Append a token to the sequence."""
        self.tokens.append(token)
        n = self.size
        if n > 0 and len(self.tokens) >= n:
            self.table.setdefault(tuple(self.tokens[-n:-1]), set()).add(token)

    def banned(self) -> list[int]:
        """Tokens that would complete an n-gram already in the sequence (as banned_ngram_tokens)."""
        n = self.size
        if n <= 0 or len(self.tokens) < n:
            return []
        return sorted(self.table.get(tuple(self.tokens[len(self.tokens) - n + 1 :]), ()))


def nucleus(values: list[float], ids: list[int], top_p: float) -> list[tuple[int, float]]:
    """Top-p over top-k survivors given in descending order: (token, weight) of the tokens kept.

    The same rule as filter_logits (a token stays while the mass of the more likely ones is below
    top_p; the most likely always stays; -inf never does), on plain floats, with each kept token's
    unnormalized probability exp(value - max) as its weight. Computed in double precision.
    """
    if not values or values[0] == float("-inf"):
        return []
    top = values[0]
    weights = [math.exp(v - top) for v in values if v != float("-inf")]
    if top_p >= 1.0:
        return list(zip(ids, weights, strict=False))
    total = math.fsum(weights)
    kept, before = [], 0.0
    for token, weight in zip(ids, weights, strict=False):
        if before / total >= top_p:
            break
        kept.append((token, weight))
        before += weight
    return kept


def draw(kept: list[tuple[int, float]], uniform: float) -> int:
    """The token at the uniform draw of the CDF over kept tokens in token-id order (as sample_rows)."""
    kept = sorted(kept)
    total = 0.0
    for _token, weight in kept:  # summed in the order of the walk below, so the last step reaches total
        total += weight
    point = uniform * total
    acc = 0.0
    for token, weight in kept:
        acc += weight
        if acc > point:
            return token
    return kept[-1][0]


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Temperature, then top-k, then nucleus (top-p) filtering, with transformers' semantics; new logits.

    With top-k on, the nucleus is computed over the k survivors only (the others have zero
    probability anyway), which keeps the sort small for large vocabularies.
    """
    if temperature != 1.0:
        logits = logits / temperature
    vocab = logits.shape[-1]
    k = top_k if 0 < top_k < vocab else vocab
    values, order = torch.topk(logits, k, dim=-1)  # descending
    keep = torch.ones_like(values, dtype=torch.bool)
    if top_p < 1.0:
        probs = values.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the more likely candidates
        keep = before < top_p  # the most likely token always stays (before = 0)
    keep &= ~torch.isinf(values)
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, order, torch.where(keep, values, torch.full_like(values, float("-inf"))))


def sample_rows(logits: torch.Tensor, uniforms: torch.Tensor) -> list[int]:
    """Draw one token per row of filtered logits by inverting its CDF at the row's uniform draw.

    Each row brings its own uniform number (from its own generator), so a row's token does not
    depend on which other rows share the batch. Tokens of zero probability are never drawn.
    """
    probs = torch.softmax(logits.double(), dim=-1)
    cdf = probs.cumsum(dim=-1)
    points = (uniforms.to(cdf.dtype) * cdf[:, -1]).unsqueeze(1)
    tokens = torch.searchsorted(cdf, points, right=True).clamp(max=logits.shape[-1] - 1)
    return tokens.squeeze(1).tolist()
