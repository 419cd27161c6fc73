"""The training loop on a small GPT-2: loss falls, exact accumulation, resume equals an uninterrupted run."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from services.runtime import ArtifactStore, ResourceExhausted
from services.trainer import models
from services.trainer.data import pack_sets
from services.trainer.engine import (
    Checkpoints,
    Hooks,
    Plan,
    TrainSettings,
    causal_lm_loss,
    evaluate,
    oom_guard,
    train,
)
from tests.trainer.conftest import SMALL, make_documents


def packed(tokenizer: Any, block: int = 32, n_train: int = 60, seed: int = 1) -> Any:
    return pack_sets(tokenizer, make_documents(n_train, seed, "t"), make_documents(8, seed + 500, "v"), block)


def test_loss_falls_over_a_few_dozen_steps(small_tokenizer: Any) -> None:
    data = packed(small_tokenizer)
    model = models.tiny_model(small_tokenizer, SMALL, seed=0)
    settings = TrainSettings(max_steps=40, batch_size=8, block_size=32, learning_rate=3e-3, warmup_ratio=0.1)
    result = train(model, data, settings)
    losses = [s["loss"] for s in result.history.steps]
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert result.history.epochs, "validation ran at least once"
    assert result.history.epochs[-1]["valid_perplexity"] < 60  # untrained: about the vocabulary size (~600)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_the_loop_loss_equals_the_models_own_loss_and_gradient(small_tokenizer: Any, mode: str) -> None:
    ids = packed(small_tokenizer).train[:4]

    def loss_and_grads(ours: bool) -> tuple[float, dict[str, torch.Tensor]]:
        torch.manual_seed(3)
        model = models.tiny_model(small_tokenizer, SMALL, seed=0)
        if mode == "lora":
            model = models.add_lora(model, models.lora_settings(model, 4, 8.0, 0.0, []))
            for name, param in model.named_parameters():
                if "lora_B" in name:  # B starts at zero; make the adapters matter
                    torch.nn.init.normal_(param, std=0.1)
        loss = (
            causal_lm_loss(model(input_ids=ids).logits, ids)
            if ours
            else model(input_ids=ids, labels=ids).loss
        )
        (3.0 * loss).backward()
        return float(loss), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}

    ours, ours_grads = loss_and_grads(True)
    hf, hf_grads = loss_and_grads(False)
    assert ours == pytest.approx(hf, rel=1e-6)
    assert ours_grads.keys() == hf_grads.keys()
    for name, grad in hf_grads.items():
        torch.testing.assert_close(ours_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    model = models.tiny_model(small_tokenizer, SMALL, seed=0)
    with torch.no_grad():
        want = float(model(input_ids=ids, labels=ids).loss)
    assert evaluate(model, ids, 2, torch.device("cpu"), None) == pytest.approx(want, rel=1e-6)


def test_accumulation_steps_exactly_every_n_micro_batches(small_tokenizer: Any) -> None:
    data = packed(small_tokenizer)
    per_epoch = len(data.train) // 2
    stepped_at: list[int] = []
    settings = TrainSettings(
        epochs=2, batch_size=2, block_size=32, gradient_accumulation=4, early_stopping_patience=0
    )
    model = models.tiny_model(small_tokenizer, SMALL, seed=0)
    train(model, data, settings, hooks=Hooks(after_step=lambda step, micro: stepped_at.append(micro)))
    expected = []
    for epoch in range(2):
        expected += [epoch * per_epoch + m for m in range(4, per_epoch + 1, 4)]
        if per_epoch % 4:
            expected.append((epoch + 1) * per_epoch)  # the epoch's shorter last group
    assert stepped_at == expected


def test_accumulated_micro_batches_give_the_gradient_of_one_big_batch(small_tokenizer: Any) -> None:
    data = packed(small_tokenizer)
    common = {"max_steps": 1, "block_size": 32, "warmup_ratio": 0.0}

    def gradients_before_the_step(batch: int, accumulation: int) -> dict[str, torch.Tensor]:
        model = models.tiny_model(small_tokenizer, SMALL, seed=0)
        seen: dict[str, torch.Tensor] = {}

        def grab(micro: int) -> None:
            if micro == accumulation - 1:  # the group's last micro-batch, just before the optimizer step
                seen.update({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})

        settings = TrainSettings(batch_size=batch, gradient_accumulation=accumulation, **common)
        train(model, data, settings, hooks=Hooks(after_micro=grab))
        return seen

    big = gradients_before_the_step(4, 1)
    accumulated = gradients_before_the_step(1, 4)
    assert big.keys() == accumulated.keys() and big
    for name, grad in big.items():
        assert torch.allclose(grad, accumulated[name], atol=1e-6, rtol=1e-4), name
    # The 2021 loop stepped after the first micro-batch: that gradient differs.
    first_only = gradients_before_the_step(1, 1)
    assert not torch.allclose(
        big["transformer.h.0.mlp.c_fc.weight"], first_only["transformer.h.0.mlp.c_fc.weight"], atol=1e-6
    )


def test_plan_counts_steps_and_groups() -> None:
    plan = Plan.make(n_blocks=21, batch=2, world=1, settings=TrainSettings(epochs=2, gradient_accumulation=4))
    assert (plan.per_epoch, plan.total_micro, plan.total_steps) == (10, 20, 6)
    assert plan.group(9) == (8, 2) and plan.group(10) == (10, 4)
    capped = Plan.make(21, 2, 1, TrainSettings(max_steps=4, gradient_accumulation=4))
    assert capped.total_micro == 14 and capped.total_steps == 4


class Killed(Exception):
    """Stands in for the process dying: nothing is saved after it."""


def test_resume_after_a_kill_ends_like_an_uninterrupted_run(small_tokenizer: Any, tmp_path: Any) -> None:
    data = packed(small_tokenizer)
    settings = TrainSettings(
        epochs=2, batch_size=4, block_size=32, save_every_steps=3, early_stopping_patience=0
    )

    whole_store = ArtifactStore(tmp_path / "a")
    whole = models.tiny_model(small_tokenizer, SMALL, seed=0)
    expected = train(whole, data, settings, checkpoints=Checkpoints(whole_store, "w.work", "run-1"))

    store = ArtifactStore(tmp_path / "b")

    def kill(step: int, micro: int) -> None:
        if step == 8:
            raise Killed()

    first = models.tiny_model(small_tokenizer, SMALL, seed=0)
    with pytest.raises(Killed):
        train(
            first,
            data,
            settings,
            checkpoints=Checkpoints(store, "w.work", "run-1"),
            hooks=Hooks(after_step=kill),
        )
    torch.manual_seed(12345)  # a new process starts from other RNG state; the checkpoint restores it
    second = models.tiny_model(small_tokenizer, SMALL, seed=0)
    resumed = train(second, data, settings, checkpoints=Checkpoints(store, "w.work", "run-1"))

    assert resumed.resumed_from_step == 6  # the last save before the kill
    assert [s["step"] for s in resumed.history.steps] == [s["step"] for s in expected.history.steps]
    for got, want in zip(resumed.history.steps, expected.history.steps, strict=True):
        assert got["loss"] == pytest.approx(want["loss"], abs=1e-5)
    for got, want in zip(resumed.history.epochs, expected.history.epochs, strict=True):
        assert got["valid_loss"] == pytest.approx(want["valid_loss"], abs=1e-5)
    for a, b in zip(whole.parameters(), second.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_a_checkpoint_from_another_run_is_not_resumed(small_tokenizer: Any, store: ArtifactStore) -> None:
    data = packed(small_tokenizer)
    settings = TrainSettings(max_steps=3, batch_size=4, block_size=32, save_every_steps=1)
    train(
        models.tiny_model(small_tokenizer, SMALL),
        data,
        settings,
        checkpoints=Checkpoints(store, "x", "run-1"),
    )
    other = train(
        models.tiny_model(small_tokenizer, SMALL),
        data,
        settings,
        checkpoints=Checkpoints(store, "x", "run-2"),
    )
    assert other.resumed_from_step == 0


def test_out_of_memory_becomes_resource_exhausted_with_advice() -> None:
    with pytest.raises(ResourceExhausted) as err, oom_guard():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert "LoRA" in str(err.value) and "gradient_checkpointing" in str(err.value)


@pytest.mark.parametrize("mode", ["freeze", "lora"])
def test_gradient_checkpointing_trains_the_same_weights(small_tokenizer: Any, mode: str) -> None:
    data = packed(small_tokenizer)

    def run(checkpointing: bool) -> list[float]:
        model = models.tiny_model(small_tokenizer, SMALL, seed=0)
        if mode == "freeze":
            models.freeze_lower_blocks(model, 2)
        else:
            model = models.add_lora(model, models.lora_settings(model, 4, 8.0, 0.0, []))
        settings = TrainSettings(
            max_steps=3, batch_size=4, block_size=32, gradient_checkpointing=checkpointing
        )
        losses = [s["loss"] for s in train(model, data, settings).history.steps]
        inner = model.get_base_model() if mode == "lora" else model
        assert inner.is_activation_checkpointing == checkpointing
        return losses

    plain, checkpointed = run(False), run(True)
    assert checkpointed == pytest.approx(plain, abs=1e-5)
    assert checkpointed[-1] != checkpointed[0]  # the weights did move
