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
    NgramBans,
    apply_repetition_penalty,
    banned_ngram_tokens,
    draw,
    filter_logits,
    nucleus,
    sample_rows,
)
from services.generator.writers import token_tables


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


def test_incremental_ngram_table_bans_what_a_rescan_bans() -> None:
    rng = torch.Generator().manual_seed(1)
    for size in (1, 2, 3, 4):
        tokens = torch.randint(0, 6, (80,), generator=rng).tolist()
        table = NgramBans(size, tokens[:10])
        for n in range(10, len(tokens) + 1):
            assert table.banned() == sorted(set(banned_ngram_tokens(tokens[:n], size))), (size, n)
            if n < len(tokens):
                table.add(tokens[n])


def test_nucleus_draw_on_the_survivors_matches_the_whole_vocabulary_pipeline() -> None:
    torch.manual_seed(2)
    for top_k, top_p in ((30, 0.95), (30, 1.0), (0, 0.5), (5, 0.3)):
        logits = torch.randn(4, 300) * 3
        logits[3, 10:] = float("-inf")  # fewer finite values than k
        filtered = filter_logits(logits, 1.0, top_k, top_p)
        k = top_k if 0 < top_k < 300 else 300
        values, order = torch.topk(logits, k, dim=-1)
        for row in range(4):
            kept = nucleus(values[row].tolist(), order[row].tolist(), top_p)
            assert (
                sorted(t for t, _w in kept) == torch.nonzero(~torch.isinf(filtered[row])).flatten().tolist()
            )
            for u in (0.0, 0.013, 0.37, 0.5, 0.81, 0.999999):
                expected = sample_rows(filtered[row : row + 1], torch.tensor([u], dtype=torch.float64))[0]
                assert draw(kept, u) == expected, (top_k, top_p, row, u)


def test_byte_table_decodes_like_the_tokenizer(tiny_store) -> None:
    from transformers import AutoTokenizer

    store, names = tiny_store
    tokenizer = AutoTokenizer.from_pretrained(str(store.path(names.full)))
    tables = token_tables(tokenizer)
    assert tables.token_bytes is not None  # byte-level BPE: the fast path is taken
    rng = torch.Generator().manual_seed(3)
    for _ in range(300):
        ids = torch.randint(
            0, len(tokenizer), (int(torch.randint(1, 40, (1,), generator=rng)),), generator=rng
        )
        ids = ids.tolist()
        assert tables.decode(tokenizer, ids) == tokenizer.decode(ids, skip_special_tokens=True)


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


def test_fast_forward_of_one_row_matches_transformers(tiny_store) -> None:
    store, names = tiny_store
    model = GPT2LMHeadModel.from_pretrained(str(store.path(names.full))).eval()
    fast = FastGPT2(model)
    with torch.inference_mode():
        fast.prefill(torch.tensor([[5, 6, 7, 8]]), torch.ones(1, 4, dtype=torch.long), 6)
        steps = [fast.step([20]), fast.step(torch.tensor([21]))]
        ref = model(input_ids=torch.tensor([[5, 6, 7, 8, 20, 21]])).logits[0]
        assert torch.allclose(ref[4], steps[0][0], atol=1e-4)
        assert torch.allclose(ref[5], steps[1][0], atol=1e-4)
        # A fresh context replaces the row; the steps after it see only that context.
        refreshed = fast.replace_row(0, [30, 31, 32])
        after = fast.step([33])
        ref = model(input_ids=torch.tensor([[30, 31, 32, 33]])).logits[0]
        assert torch.allclose(ref[2], refreshed, atol=1e-4)
        assert torch.allclose(ref[3], after[0], atol=1e-4)
