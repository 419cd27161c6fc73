"""The logits pipeline and the lean GPT-2 forward agree with transformers; seeded sampling is reproducible."""

from __future__ import annotations

import torch
from transformers import GPT2LMHeadModel
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from services.generator.fastgpt2 import FastGPT2, supports
from services.generator.sampling import (
    apply_repetition_penalty,
    banned_ngram_tokens,
    filter_logits,
    sample_rows,
)


def test_filtering_matches_transformers() -> None:
    torch.manual_seed(0)
    for _ in range(30):
        logits = torch.randn(3, 500) * 3
        expected = TopPLogitsWarper(0.95)(None, TopKLogitsWarper(30)(None, logits.clone()))
        assert torch.equal(torch.isinf(expected), torch.isinf(filter_logits(logits, 1.0, 30, 0.95)))
        expected = TopPLogitsWarper(0.5)(None, logits.clone())
        assert torch.equal(torch.isinf(expected), torch.isinf(filter_logits(logits, 1.0, 0, 0.5)))


def test_repetition_penalty_matches_transformers() -> None:
    logits = torch.randn(2, 50)
    context = torch.tensor([[1, 2, 3], [4, 4, 9]])
    expected = RepetitionPenaltyLogitsProcessor(2.0)(context, logits.clone())
    seen = torch.zeros(2, 50, dtype=torch.bool)
    seen.scatter_(1, context, True)
    ours = logits.clone()
    apply_repetition_penalty(ours, seen, 2.0)
    assert torch.allclose(ours, expected)


def test_no_repeat_ngram_bans_the_completing_token() -> None:
    assert banned_ngram_tokens([5, 6, 7, 5, 6], 3) == [7]
    assert banned_ngram_tokens([5, 6, 7], 3) == []


def test_sampling_never_draws_a_filtered_token_and_follows_its_uniform() -> None:
    logits = torch.full((2, 10), float("-inf"))
    logits[0, 3] = 0.0
    logits[1, [2, 7]] = 0.0
    assert sample_rows(logits, torch.tensor([0.999, 0.1], dtype=torch.float64)) == [3, 2]
    assert sample_rows(logits, torch.tensor([0.0, 0.9], dtype=torch.float64)) == [3, 7]


def test_fast_forward_matches_transformers(tiny_store) -> None:
    store, names = tiny_store
    model = GPT2LMHeadModel.from_pretrained(str(store.path(names.full))).eval()
    assert supports(model)
    fast = FastGPT2(model)
    contexts = [[5, 6, 7, 8, 9], [10, 11, 12]]
    ids = torch.tensor([[0] * (5 - len(c)) + c for c in contexts])
    mask = torch.tensor([[0] * (5 - len(c)) + [1] * len(c) for c in contexts])
    with torch.inference_mode():
        first = fast.prefill(ids, mask, 4)
        second = fast.step(torch.tensor([20, 21]))
        refreshed = fast.replace_row(1, [30, 31])
        third = fast.step(torch.tensor([22, 32]))
        for row, context in enumerate(contexts):
            ref = model(input_ids=torch.tensor([[*context, 20 + row]])).logits[0]
            assert torch.allclose(ref[len(context) - 1], first[row], atol=1e-4)
            assert torch.allclose(ref[len(context)], second[row], atol=1e-4)
        ref0 = model(input_ids=torch.tensor([[*contexts[0], 20, 22]])).logits[0, -1]
        ref1 = model(input_ids=torch.tensor([[30, 31, 32]])).logits[0]
        assert torch.allclose(ref0, third[0], atol=1e-4)
        assert torch.allclose(ref1[1], refreshed, atol=1e-4)
        assert torch.allclose(ref1[2], third[1], atol=1e-4)
