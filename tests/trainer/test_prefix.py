"""The frozen prefix cache: lower blocks run once per block of text, and training is unchanged."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from services.runtime import InvalidArgument
from services.trainer import models
from services.trainer.engine import TrainSettings, train
from services.trainer.prefix import frozen_depth
from tests.trainer.conftest import SMALL
from tests.trainer.test_engine import packed


def writer(tokenizer: Any, mode: str) -> torch.nn.Module:
    model = models.tiny_model(tokenizer, SMALL, seed=0)
    if mode == "freeze":
        models.freeze_lower_blocks(model, 2)
    elif mode == "lora":
        torch.manual_seed(5)
        model = models.add_lora(model, models.lora_settings(model, 4, 8.0, 0.0, []))
    return model


def counting_lowest_attention(model: torch.nn.Module) -> list[int]:
    """A counter of real forward passes through the lowest block (its attention runs only then)."""
    calls = [0]
    block = models.transformer_blocks(model)[0]
    block.attn.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("mode", ["freeze", "lora"])
def test_cached_prefix_trains_exactly_like_recomputing_it(small_tokenizer: Any, mode: str) -> None:
    data = packed(small_tokenizer)
    runs = {}
    for budget in (0, 64):
        model = writer(small_tokenizer, mode)
        calls = counting_lowest_attention(model)
        settings = TrainSettings(
            epochs=3, batch_size=4, block_size=32, early_stopping_patience=0, frozen_cache_mb=budget
        )
        result = train(model, data, settings)
        weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        runs[budget] = (result.history, weights, calls[0])
    (plain, plain_weights, plain_calls), (cached, cached_weights, cached_calls) = runs[0], runs[64]
    assert [s["loss"] for s in cached.steps] == [s["loss"] for s in plain.steps]
    assert [e["valid_loss"] for e in cached.epochs] == [e["valid_loss"] for e in plain.epochs]
    assert all(torch.equal(plain_weights[n], cached_weights[n]) for n in plain_weights)
    assert cached.steps[-1]["loss"] != cached.steps[0]["loss"]  # it did train
    # Three epochs over train and valid: without the cache the lowest block runs for every
    # micro-batch of every epoch; with it, only for the first epoch's (plus the few train blocks
    # an epoch leaves out, met later).
    per_epoch = len(data.train) // 4 + -(-len(data.valid) // 4)
    assert plain_calls == 3 * per_epoch
    assert per_epoch <= cached_calls < 1.5 * per_epoch


def test_no_prefix_when_everything_trains_or_the_budget_is_too_small(small_tokenizer: Any) -> None:
    assert frozen_depth(writer(small_tokenizer, "full")) == 0
    assert frozen_depth(writer(small_tokenizer, "freeze")) == 2
    assert frozen_depth(writer(small_tokenizer, "lora")) == 2  # adapters on the upper half
    data = packed(small_tokenizer, n_train=200)
    model = writer(small_tokenizer, "freeze")
    calls = counting_lowest_attention(model)
    # 1 MB cannot hold the train blocks' activations (blocks x 32 x 64 floats): recompute, as before.
    assert len(data.train) * 32 * 64 * 4 > 2**20
    settings = TrainSettings(
        epochs=2, batch_size=4, block_size=32, early_stopping_patience=0, frozen_cache_mb=1
    )
    train(model, data, settings)
    assert calls[0] >= 2 * (len(data.train) // 4)


def test_frozen_cache_budget_is_checked() -> None:
    with pytest.raises(InvalidArgument, match="frozen_cache_mb"):
        TrainSettings(frozen_cache_mb=-1).check()


def test_frozen_blocks_run_without_dropout_while_cached(small_tokenizer: Any) -> None:
    preset = models.TinyPreset(**{**SMALL.__dict__, "dropout": 0.3})
    model = models.tiny_model(small_tokenizer, preset, seed=0)
    models.freeze_lower_blocks(model, 2)
    blocks = models.transformer_blocks(model)
    modes: list[tuple[bool, bool]] = []  # (lowest block, top block) in training mode during a pass
    blocks[0].attn.register_forward_hook(lambda m, *_: modes.append((m.training, blocks[-1].training)))
    settings = TrainSettings(max_steps=2, batch_size=4, block_size=32, early_stopping_patience=0)
    train(model, packed(small_tokenizer), settings)
    assert modes and all(modes_pair == (False, True) for modes_pair in modes[:2])


def test_what_does_not_fit_the_budget_is_recomputed_and_the_rest_kept(small_tokenizer: Any) -> None:
    from services.trainer.prefix import FrozenPrefix

    model = writer(small_tokenizer, "freeze")
    # Rows of 32 x 64 floats (8 KB each): 10 train rows fit in 96 KB, 10 valid rows more do not.
    prefix = FrozenPrefix(model, 2, {"train": 10, "valid": 10}, budget_bytes=96 * 1024)
    hidden = torch.randn(4, 32, 64)
    prefix._store("train", torch.arange(4), hidden)
    prefix._store("valid", torch.arange(4), hidden)
    assert prefix.off == {"valid"} and torch.equal(prefix.kept["train"][:4], hidden)
    assert prefix.filled["train"].tolist() == [True] * 4 + [False] * 6
